package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// OpenGroupSecrets finds the EncryptedGroupSecrets of a Welcome addressed to
// the KeyPackage whose reference is kpRef and decrypts it with the
// KeyPackage's init key (RFC 9420 §12.4.3.1):
//
//	encrypted_group_secrets = EncryptWithLabel(init_key, "Welcome",
//	                                           encrypted_group_info, group_secrets)
//
// The result is secret; the caller erases JoinerSecret and PathSecret.
func OpenGroupSecrets(s *suite.Suite, w *wire.Welcome, kpRef []byte, initKey *suite.HPKEPrivateKey) (*wire.GroupSecrets, error) {
	if w.CipherSuite != wire.CipherSuite(s.ID()) {
		return nil, fmt.Errorf("%w: Welcome for cipher suite %#04x", ErrInvalid, w.CipherSuite)
	}
	for i := range w.Secrets {
		es := &w.Secrets[i]
		if !bytes.Equal(es.NewMember, kpRef) {
			continue
		}
		pt, err := s.DecryptWithLabel(initKey, "Welcome", w.EncryptedGroupInfo,
			es.EncryptedGroupSecrets.KEMOutput, es.EncryptedGroupSecrets.Ciphertext)
		if err != nil {
			return nil, fmt.Errorf("%w: group secrets", ErrAuthentication)
		}
		var gs wire.GroupSecrets
		err = codec.Unmarshal(pt, &gs)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("mls group: GroupSecrets: %w", err)
		}
		return &gs, nil
	}
	return nil, ErrNotForUs
}

// OpenGroupInfo decrypts a Welcome's GroupInfo with the welcome_secret of the
// joiner_secret and psk_secret (RFC 9420 §12.4.3.1):
//
//	welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret), "welcome")
//	encrypted_group_info = AEAD.Seal(welcome_key, welcome_nonce, "", GroupInfo)
//
// The GroupInfo is untrusted until [VerifyGroupInfo] and the confirmation tag
// check have passed.
func OpenGroupInfo(joiner *schedule.JoinerSecret, psk *schedule.PSKSecret, encryptedGroupInfo []byte) (*wire.GroupInfo, error) {
	ws, err := joiner.WelcomeSecret(psk)
	if err != nil {
		return nil, fmt.Errorf("mls group: welcome_secret: %w", err)
	}
	defer ws.Erase()
	pt, err := ws.OpenGroupInfo(encryptedGroupInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: group info", ErrAuthentication)
	}
	var gi wire.GroupInfo
	if err := codec.Unmarshal(pt, &gi); err != nil {
		return nil, fmt.Errorf("mls group: GroupInfo: %w", err)
	}
	return &gi, nil
}

// checkGroupInfoExtensions runs the checks of RFC 9420 §13.4 on the
// GroupInfo of a Welcome to a joiner whose KeyPackage's leaf has
// capabilities caps:
//
//   - no extension type appears twice among the GroupInfo's extensions or
//     among its GroupContext's ("Any field containing a list of extensions
//     MUST NOT have more than one extension of any given type");
//   - the joiner supports every GroupContext extension, as one of the
//     default extensions (§7.2) or one its capabilities list ("A client
//     joining a group MUST verify that it supports every extension in the
//     GroupContext for the group. Otherwise, it MUST treat the enclosing
//     GroupInfo message as invalid and not join the group").
func checkGroupInfoExtensions(gi *wire.GroupInfo, caps *wire.Capabilities) error {
	if e, dup := wire.DuplicateExtension(gi.Extensions); dup {
		return fmt.Errorf("%w: GroupInfo carries extension %d twice", ErrInvalid, e)
	}
	if e, dup := wire.DuplicateExtension(gi.GroupContext.Extensions); dup {
		return fmt.Errorf("%w: GroupContext carries extension %d twice", ErrInvalid, e)
	}
	for _, e := range gi.GroupContext.Extensions {
		if !defaultExtension(e.Type) && !slices.Contains(caps.Extensions, e.Type) {
			return fmt.Errorf("%w: GroupContext extension %d is not supported", ErrInvalid, e.Type)
		}
	}
	return nil
}

// VerifyGroupInfo checks a GroupInfo's signature under the signer's key
// (RFC 9420 §12.4.3):
//
//	signature = SignWithLabel(signer_priv, "GroupInfoTBS", GroupInfoTBS)
func VerifyGroupInfo(s *suite.Suite, gi *wire.GroupInfo, signer suite.SignaturePublicKey) error {
	tbs, err := gi.GroupInfoTBS()
	if err != nil {
		return fmt.Errorf("mls group: GroupInfoTBS: %w", err)
	}
	if err := s.VerifyWithLabel(signer, "GroupInfoTBS", tbs, gi.Signature); err != nil {
		return fmt.Errorf("%w: group info signature", ErrAuthentication)
	}
	return nil
}

// SignGroupInfo sets gi.Signature (RFC 9420 §12.4.3).
func SignGroupInfo(s *suite.Suite, gi *wire.GroupInfo, key *suite.SignaturePrivateKey) error {
	tbs, err := gi.GroupInfoTBS()
	if err != nil {
		return fmt.Errorf("mls group: GroupInfoTBS: %w", err)
	}
	gi.Signature, err = s.SignWithLabel(key, "GroupInfoTBS", tbs)
	if err != nil {
		return fmt.Errorf("mls group: sign GroupInfo: %w", err)
	}
	return nil
}
