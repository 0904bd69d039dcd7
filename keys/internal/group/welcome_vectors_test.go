package group

import (
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TestWelcomeVectors runs every suite-1 entry of welcome.json as
// test-vectors.md describes: decrypt the group secrets with init_priv,
// decrypt the GroupInfo, verify its signature with signer_pub, and recompute
// its confirmation tag from joiner_secret with no PSKs.
func TestWelcomeVectors(t *testing.T) {
	var all []struct {
		Suite      uint16           `json:"cipher_suite"`
		InitPriv   vectors.HexBytes `json:"init_priv"`
		SignerPub  vectors.HexBytes `json:"signer_pub"`
		KeyPackage vectors.HexBytes `json:"key_package"`
		Welcome    vectors.HexBytes `json:"welcome"`
	}
	vectors.Load(t, "welcome", &all)
	ran := 0
	for _, v := range all {
		if v.Suite != 1 {
			continue // package suite implements only suite 1
		}
		s, err := suite.ByID(1)
		if err != nil {
			t.Fatal(err)
		}
		initKey, err := s.ParseHPKEPrivateKey(v.InitPriv)
		if err != nil {
			t.Fatal(err)
		}
		var kpMsg, wMsg wire.MLSMessage
		if err := codec.Unmarshal(v.KeyPackage, &kpMsg); err != nil {
			t.Fatal(err)
		}
		if err := codec.Unmarshal(v.Welcome, &wMsg); err != nil {
			t.Fatal(err)
		}
		kp, err := codec.Marshal(kpMsg.KeyPackage)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := s.MakeKeyPackageRef(kp)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := OpenGroupSecrets(s, wMsg.Welcome, ref, initKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenGroupSecrets(s, wMsg.Welcome, []byte("other"), initKey); !errors.Is(err, ErrNotForUs) {
			t.Fatalf("other KeyPackage: got %v", err)
		}
		joiner, err := schedule.NewJoinerSecret(s, gs.JoinerSecret)
		if err != nil {
			t.Fatal(err)
		}
		psk, err := schedule.ComputePSKSecret(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		gi, err := OpenGroupInfo(joiner, psk, wMsg.Welcome.EncryptedGroupInfo)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyGroupInfo(s, gi, suite.SignaturePublicKey(v.SignerPub)); err != nil {
			t.Fatal(err)
		}
		gi.Signer ^= 1
		if err := VerifyGroupInfo(s, gi, suite.SignaturePublicKey(v.SignerPub)); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("altered GroupInfo: got %v", err)
		}
		gi.Signer ^= 1
		gc, err := codec.Marshal(&gi.GroupContext)
		if err != nil {
			t.Fatal(err)
		}
		es, err := joiner.EpochSecret(psk, gc)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := es.Derive()
		if err != nil {
			t.Fatal(err)
		}
		if !ep.VerifyConfirmationTag(gi.GroupContext.ConfirmedTranscriptHash, gi.ConfirmationTag) {
			t.Fatal("confirmation tag does not verify")
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no suite-1 vectors")
	}
	t.Logf("%d suite-1 welcome vectors", ran)
}
