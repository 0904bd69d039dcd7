package schedule

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/suite"
)

func suite1(t testing.TB) *suite.Suite {
	t.Helper()
	s, err := suite.ByID(suite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEpoch runs the schedule once from a random init_secret.
func newEpoch(t testing.TB, s *suite.Suite) (*JoinerSecret, *PSKSecret, *Epoch) {
	t.Helper()
	init, err := GenerateInitSecret(s, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	joiner, err := init.Joiner(nil, []byte("group context"))
	if err != nil {
		t.Fatal(err)
	}
	psk, err := ComputePSKSecret(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	es, err := joiner.EpochSecret(psk, []byte("group context"))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := es.Derive()
	if err != nil {
		t.Fatal(err)
	}
	return joiner, psk, ep
}

func TestZeroInputs(t *testing.T) {
	s := suite1(t)
	init, _ := NewInitSecret(s, bytes.Repeat([]byte{1}, 32))
	a, err := init.Joiner(nil, []byte("gc"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := init.Joiner(make([]byte, 32), []byte("gc"))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("nil commit_secret differs from the zero vector")
	}
	if _, err := init.Joiner(make([]byte, 31), nil); err == nil {
		t.Error("accepted a 31-byte commit_secret")
	}
	psk, _ := ComputePSKSecret(s, nil)
	if !bytes.Equal(psk.b, make([]byte, 32)) {
		t.Errorf("psk_secret with no PSKs = %x", psk.b)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := NewInitSecret(s, make([]byte, n)); err == nil {
			t.Errorf("NewInitSecret accepted %d bytes", n)
		}
		if _, err := NewJoinerSecret(s, make([]byte, n)); err == nil {
			t.Errorf("NewJoinerSecret accepted %d bytes", n)
		}
	}
	if _, err := NewInitSecret(nil, make([]byte, 32)); err == nil {
		t.Error("NewInitSecret accepted a nil suite")
	}
}

func TestJoinerFromWelcome(t *testing.T) {
	// A joiner that receives joiner_secret reaches the same epoch.
	s := suite1(t)
	joiner, psk, ep := newEpoch(t, s)
	j2, err := NewJoinerSecret(s, joiner.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	es, _ := j2.EpochSecret(psk, []byte("group context"))
	ep2, _ := es.Derive()
	if !bytes.Equal(ep2.Authenticator, ep.Authenticator) || !bytes.Equal(ep2.Init.b, ep.Init.b) {
		t.Error("joiner derived another epoch")
	}
	// Another GroupContext gives another epoch.
	es3, _ := j2.EpochSecret(psk, []byte("group context 2"))
	ep3, _ := es3.Derive()
	if bytes.Equal(ep3.Authenticator, ep.Authenticator) {
		t.Error("GroupContext does not affect the epoch")
	}
}

func TestWelcomeGroupInfo(t *testing.T) {
	s := suite1(t)
	joiner, psk, _ := newEpoch(t, s)
	w, err := joiner.WelcomeSecret(psk)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := w.SealGroupInfo([]byte("group info"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := w.OpenGroupInfo(ct)
	if err != nil || string(pt) != "group info" {
		t.Fatalf("OpenGroupInfo = %q, %v", pt, err)
	}
	ct[0] ^= 1
	if _, err := w.OpenGroupInfo(ct); err == nil {
		t.Error("OpenGroupInfo accepted a modified ciphertext")
	}
	key, nonce, _ := w.KeyNonce()
	if len(key) != s.Nk() || len(nonce) != s.Nn() {
		t.Errorf("welcome key, nonce sizes %d, %d", len(key), len(nonce))
	}
}

func TestTags(t *testing.T) {
	s := suite1(t)
	_, _, ep := newEpoch(t, s)
	tag, err := ep.MembershipTag([]byte("tbm"))
	if err != nil {
		t.Fatal(err)
	}
	if !ep.VerifyMembershipTag([]byte("tbm"), tag) || ep.VerifyMembershipTag([]byte("tbn"), tag) ||
		ep.VerifyMembershipTag([]byte("tbm"), tag[:31]) {
		t.Error("membership tag check is wrong")
	}
	ctag, _ := ep.ConfirmationTag([]byte("cth"))
	if bytes.Equal(ctag, tag) || !ep.VerifyConfirmationTag([]byte("cth"), ctag) {
		t.Error("confirmation tag check is wrong")
	}
}

func TestErase(t *testing.T) {
	s := suite1(t)
	joiner, psk, ep := newEpoch(t, s)
	membership := ep.Membership
	ep.Erase()
	if !bytes.Equal(membership, make([]byte, len(membership))) {
		t.Error("Erase left membership_key")
	}
	if _, err := ep.Export("l", nil, 16); err == nil {
		t.Error("exported from an erased epoch")
	}
	if _, err := ep.ExternalKeyPair(); err == nil {
		t.Error("derived the external key pair of an erased epoch")
	}
	if ep.VerifyMembershipTag(nil, nil) || ep.VerifyConfirmationTag(nil, nil) {
		t.Error("an erased epoch verified a tag")
	}
	if ep.Init == nil || ep.Init.b == nil {
		t.Fatal("Epoch.Erase erased the next init_secret")
	}
	ep.Init.Erase()
	if _, err := ep.Init.Joiner(nil, nil); err == nil {
		t.Error("Joiner from an erased init_secret")
	}
	psk.Erase()
	if _, err := joiner.EpochSecret(psk, nil); err == nil {
		t.Error("EpochSecret with an erased psk_secret")
	}
	joiner.Erase()
	psk2, _ := ComputePSKSecret(s, nil)
	if _, err := joiner.WelcomeSecret(psk2); err == nil {
		t.Error("WelcomeSecret from an erased joiner_secret")
	}
}

func TestRedacted(t *testing.T) {
	s := suite1(t)
	joiner, psk, ep := newEpoch(t, s)
	w, _ := joiner.WelcomeSecret(psk)
	es, _ := joiner.EpochSecret(psk, nil)
	secrets := [][]byte{joiner.b, psk.b, ep.Init.b, w.b, es.b, ep.SenderData, ep.Encryption,
		ep.Exporter, ep.External, ep.Confirmation, ep.Membership, ep.Resumption, ep.Authenticator}
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
		out := fmt.Sprint(fmt.Sprintf(verb, joiner), fmt.Sprintf(verb, *joiner), fmt.Sprintf(verb, psk),
			fmt.Sprintf(verb, w), fmt.Sprintf(verb, es), fmt.Sprintf(verb, ep), fmt.Sprintf(verb, *ep))
		for _, b := range secrets {
			if strings.Contains(out, fmt.Sprintf("%x", b)) || strings.Contains(out, fmt.Sprint(b)) ||
				strings.Contains(out, fmt.Sprintf("%#v", b)[len("[]byte"):]) {
				t.Fatalf("%s leaks a secret: %s", verb, out)
			}
		}
	}
}

func TestPSKSecretOrderAndCount(t *testing.T) {
	s := suite1(t)
	a := PSK{ID: []byte{1, 1, 'a', 0}, Secret: []byte("secret a")}
	b := PSK{ID: []byte{1, 1, 'b', 0}, Secret: []byte("secret b")}
	ab, _ := ComputePSKSecret(s, []PSK{a, b})
	ba, _ := ComputePSKSecret(s, []PSK{b, a})
	one, _ := ComputePSKSecret(s, []PSK{a})
	if bytes.Equal(ab.b, ba.b) || bytes.Equal(ab.b, one.b) {
		t.Error("psk_secret ignores order or count")
	}
	if _, err := ComputePSKSecret(s, make([]PSK, maxPSKs+1)); err == nil {
		t.Error("accepted 65536 PSKs")
	}
}

func BenchmarkEpoch(b *testing.B) {
	s := suite1(b)
	init, _ := GenerateInitSecret(s, rand.Reader)
	psk, _ := ComputePSKSecret(s, nil)
	gc := make([]byte, 120)
	b.ReportAllocs()
	for b.Loop() {
		j, _ := init.Joiner(nil, gc)
		es, _ := j.EpochSecret(psk, gc)
		ep, err := es.Derive()
		if err != nil {
			b.Fatal(err)
		}
		ep.Erase()
	}
}

func TestExternalInit(t *testing.T) {
	s := suite1(t)
	_, _, ep := newEpoch(t, s)
	ext, err := ep.ExternalKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	kemOutput, joinerInit, err := ExternalInit(s, rand.Reader, ext.Public())
	if err != nil {
		t.Fatal(err)
	}
	memberInit, err := ep.ExternalInitSecret(kemOutput)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joinerInit.b, memberInit.b) || len(joinerInit.b) != s.Nh() {
		t.Fatal("joiner and member derived different init_secrets")
	}
	// Another epoch's external key gives another secret.
	_, _, other := newEpoch(t, s)
	if otherInit, err := other.ExternalInitSecret(kemOutput); err != nil || bytes.Equal(otherInit.b, joinerInit.b) {
		t.Errorf("another epoch recovered the init_secret (%v)", err)
	}
	if _, err := ep.ExternalInitSecret(kemOutput[:31]); err == nil {
		t.Error("accepted a truncated kem_output")
	}
	if _, _, err := ExternalInit(s, rand.Reader, ext.Public()[:31]); err == nil {
		t.Error("accepted a truncated external_pub")
	}
}
