package framing

import (
	"errors"
	"fmt"
	"io"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/secrettree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

func leafIndex(l uint32) treemath.LeafIndex { return treemath.LeafIndex(l) }

func ratchetFor(ct wire.ContentType) secrettree.RatchetType {
	if ct == wire.ContentApplication {
		return secrettree.Application
	}
	return secrettree.Handshake
}

// ProtectPrivate encrypts signed content c from a member as a PrivateMessage
// (RFC 9420 §6.3). The content key is the next generation of the sender's
// handshake or application ratchet, which the secret tree deletes as it
// hands it out (§9.2); the nonce is XORed with a fresh 4-byte reuse_guard read
// from rand (§6.3.1), so that two messages can never share a (key, nonce) pair
// even if a ratchet state were ever reused. The plaintext is padded with zero
// bytes to a multiple of padBlock (no padding if padBlock ≤ 1), which hides
// the exact length of short messages.
//
//	ciphertext            = AEAD.Seal(key, nonce ⊕ reuse_guard,
//	                                  PrivateContentAAD, PrivateMessageContent)
//	encrypted_sender_data = AEAD.Seal(sender_data_key, sender_data_nonce,
//	                                  SenderDataAAD, SenderData)
func ProtectPrivate(e *Epoch, rand io.Reader, c *wire.FramedContent, auth wire.FramedContentAuthData, padBlock int) (*wire.PrivateMessage, error) {
	if c.Sender.Type != wire.SenderMember {
		return nil, fmt.Errorf("%w: PrivateMessage from a non-member sender", ErrInvalid)
	}
	if e.Tree == nil {
		return nil, errors.New("mls framing: no secret tree")
	}
	pc := &wire.PrivateMessageContent{ApplicationData: c.ApplicationData, Proposal: c.Proposal, Commit: c.Commit, Auth: auth}
	pt, err := wire.MarshalPrivateMessageContent(pc, c.ContentType)
	if err != nil {
		return nil, fmt.Errorf("mls framing: PrivateMessageContent: %w", err)
	}
	if padBlock > 1 && len(pt)%padBlock != 0 {
		pt = append(pt, make([]byte, padBlock-len(pt)%padBlock)...)
	}
	m := &wire.PrivateMessage{GroupID: c.GroupID, Epoch: c.Epoch, ContentType: c.ContentType, AuthenticatedData: c.AuthenticatedData}
	aad, err := m.PrivateContentAAD()
	if err != nil {
		return nil, fmt.Errorf("mls framing: PrivateContentAAD: %w", err)
	}
	sd := wire.SenderData{LeafIndex: c.Sender.LeafIndex}
	if _, err := io.ReadFull(rand, sd.ReuseGuard[:]); err != nil {
		return nil, fmt.Errorf("mls framing: reuse guard: %w", err)
	}
	key, err := e.Tree.EncryptionKey(leafIndex(c.Sender.LeafIndex), ratchetFor(c.ContentType))
	if err != nil {
		return nil, fmt.Errorf("mls framing: content key: %w", err)
	}
	defer key.Erase()
	sd.Generation = key.Generation
	for i := range sd.ReuseGuard {
		key.Nonce[i] ^= sd.ReuseGuard[i]
	}
	m.Ciphertext, err = e.Suite.Seal(nil, key.Key, key.Nonce, aad, pt)
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("mls framing: seal content: %w", err)
	}

	sdKey, sdNonce, err := secrettree.SenderDataKeyNonce(e.Suite, e.SenderData, m.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("mls framing: sender data key: %w", err)
	}
	defer clear(sdKey)
	sdAAD, err := m.SenderDataAAD()
	if err != nil {
		return nil, fmt.Errorf("mls framing: SenderDataAAD: %w", err)
	}
	sdBytes, err := codec.Marshal(&sd)
	if err != nil {
		return nil, fmt.Errorf("mls framing: SenderData: %w", err)
	}
	m.EncryptedSenderData, err = e.Suite.Seal(nil, sdKey, sdNonce, sdAAD, sdBytes)
	if err != nil {
		return nil, fmt.Errorf("mls framing: seal sender data: %w", err)
	}
	return m, nil
}

// UnprotectPrivate decrypts and authenticates a PrivateMessage (RFC 9420
// §6.3): it checks the group and epoch, decrypts the sender data, looks up
// (without consuming) the key of the named generation, decrypts the content,
// checks the padding and verifies the signature. The key is consumed only by
// [Unprotected.Consume].
func UnprotectPrivate(e *Epoch, m *wire.PrivateMessage, lookup KeyLookup) (*Unprotected, error) {
	if err := checkEpoch(e, m.GroupID, m.Epoch); err != nil {
		return nil, err
	}
	if e.Tree == nil {
		return nil, errors.New("mls framing: no secret tree")
	}

	// Sender data (§6.3.2).
	sdKey, sdNonce, err := secrettree.SenderDataKeyNonce(e.Suite, e.SenderData, m.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("mls framing: sender data key: %w", err)
	}
	defer clear(sdKey)
	sdAAD, err := m.SenderDataAAD()
	if err != nil {
		return nil, fmt.Errorf("%w: SenderDataAAD: %w", codec.ErrMalformed, err)
	}
	sdBytes, err := e.Suite.Open(nil, sdKey, sdNonce, sdAAD, m.EncryptedSenderData)
	if err != nil {
		return nil, fmt.Errorf("%w: sender data", ErrAuthentication)
	}
	var sd wire.SenderData
	if err := codec.Unmarshal(sdBytes, &sd); err != nil {
		return nil, fmt.Errorf("mls framing: SenderData: %w", err)
	}

	// Content (§6.3.1), with the key looked up but not consumed.
	typ := ratchetFor(m.ContentType)
	key, err := e.Tree.DecryptionKey(leafIndex(sd.LeafIndex), typ, sd.Generation)
	if err != nil {
		return nil, fmt.Errorf("%w: content key: %w", ErrAuthentication, err)
	}
	nonce := append([]byte(nil), key.Nonce...)
	for i := range sd.ReuseGuard {
		nonce[i] ^= sd.ReuseGuard[i]
	}
	aad, err := m.PrivateContentAAD()
	if err != nil {
		key.Erase()
		return nil, fmt.Errorf("%w: PrivateContentAAD: %w", codec.ErrMalformed, err)
	}
	pt, err := e.Suite.Open(nil, key.Key, nonce, aad, m.Ciphertext)
	key.Erase()
	clear(nonce)
	if err != nil {
		return nil, fmt.Errorf("%w: content", ErrAuthentication)
	}
	pc, err := wire.UnmarshalPrivateMessageContent(pt, m.ContentType)
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("mls framing: PrivateMessageContent: %w", err)
	}

	// Signature (§6.1).
	c := wire.FramedContent{
		GroupID: m.GroupID, Epoch: m.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: sd.LeafIndex},
		AuthenticatedData: m.AuthenticatedData, ContentType: m.ContentType,
		ApplicationData: pc.ApplicationData, Proposal: pc.Proposal, Commit: pc.Commit,
	}
	if err := verify(e, lookup, wire.WireFormatPrivateMessage, &c, pc.Auth.Signature); err != nil {
		return nil, err
	}
	return &Unprotected{
		Content: wire.AuthenticatedContent{WireFormat: wire.WireFormatPrivateMessage, Content: c, Auth: pc.Auth},
		tree:    e.Tree, leaf: sd.LeafIndex, ratchet: typ, gen: sd.Generation, private: true,
	}, nil
}

// Unprotect authenticates an MLSMessage carrying a PublicMessage or a
// PrivateMessage.
func Unprotect(e *Epoch, m *wire.MLSMessage, lookup KeyLookup) (*Unprotected, error) {
	switch m.WireFormat {
	case wire.WireFormatPublicMessage:
		return UnprotectPublic(e, m.PublicMessage, lookup)
	case wire.WireFormatPrivateMessage:
		return UnprotectPrivate(e, m.PrivateMessage, lookup)
	}
	return nil, fmt.Errorf("%w: wire format %d is not a framed message", ErrInvalid, m.WireFormat)
}
