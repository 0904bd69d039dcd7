package keys

import (
	"encoding/binary"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// SFrameEpochBits is E of RFC 9605 §5.2: the number of low KID bits that
// carry the epoch. With E = 8 a KID is reused only after 256 epochs, far
// beyond the one-epoch grace window receivers keep old keys for; the leaf
// index takes the other 56 bits, more than MLS's 2^31 leaves need. KIDs of
// small groups fit in two bytes of the SFrame header.
const SFrameEpochBits = 8

// sframeExporterLabel is the MLS-Exporter label of RFC 9605 §5.2.
const sframeExporterLabel = "SFrame 1.0 Base Key"

// SFrameKey is one sender's SFrame key for one epoch: pass KID and BaseKey
// to the e2ee package (Sender.SetKey for our own, Receiver.Add for every
// member's). BaseKey is secret.
type SFrameKey struct {
	Leaf    uint32
	KID     uint64
	BaseKey []byte
}

// EpochKeys are the SFrame keys of one epoch (RFC 9605 §5.2). They are
// copies: the Group zeroes its own secrets when the epoch ends, but these
// stay until the caller calls [EpochKeys.Erase], so that frames of the
// previous epoch can still be read for a grace window the caller chooses.
type EpochKeys struct {
	Epoch uint64
	// Own is this member's sending key.
	Own SFrameKey
	// Members holds the key of every member, this one included, in leaf
	// order.
	Members []SFrameKey
}

// Erase zeroes every base key.
func (k *EpochKeys) Erase() {
	clear(k.Own.BaseKey)
	for _, m := range k.Members {
		clear(m.BaseKey)
	}
}

// String describes the keys without printing them.
func (k *EpochKeys) String() string {
	return fmt.Sprintf("keys.EpochKeys(epoch %d, %d senders, REDACTED)", k.Epoch, len(k.Members))
}

// Format prints [EpochKeys.String] for every verb.
func (k *EpochKeys) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// KID returns the SFrame key ID of the member at leaf in epoch (RFC 9605
// §5.2): (leaf << E) | (epoch mod 2^E), with E = SFrameEpochBits.
func KID(leaf uint32, epoch uint64) uint64 {
	return uint64(leaf)<<SFrameEpochBits | epoch&(1<<SFrameEpochBits-1)
}

// SFrameKeys derives the SFrame base key of every member for the current
// epoch (RFC 9605 §5.2):
//
//	sframe_epoch_secret = MLS-Exporter("SFrame 1.0 Base Key", "", Nk)
//	sender_base_key     = HKDF-Expand(sframe_epoch_secret, uint64_be(leaf_index), Nk)
//	KID                 = (leaf_index << E) | (epoch mod 2^E)
//
// with Nk = 16, the key size of both the MLS suite's AES-128-GCM and the
// default SFrame suite AES_128_GCM_SHA256_128, and HKDF-Expand of the MLS
// suite (SHA-256).
func (g *Group) SFrameKeys() (*EpochKeys, error) {
	if !g.Active() {
		return nil, fmt.Errorf("%w: removed from the group", ErrNotMember)
	}
	s := defaultSuite()
	nk := s.Nk()
	secret, err := g.st.Export(sframeExporterLabel, nil, uint16(nk))
	if err != nil {
		return nil, classify("sframe keys", err)
	}
	defer clear(secret)
	epoch := g.Epoch()
	out := &EpochKeys{Epoch: epoch}
	own := uint32(g.st.OwnLeaf())
	g.st.Tree().Members(func(l treemath.LeafIndex, _ *wire.LeafNode) {
		if err != nil {
			return
		}
		var key []byte
		key, err = s.Expand(secret, binary.BigEndian.AppendUint64(nil, uint64(l)), nk)
		k := SFrameKey{Leaf: uint32(l), KID: KID(uint32(l), epoch), BaseKey: key}
		out.Members = append(out.Members, k)
		if uint32(l) == own {
			out.Own = SFrameKey{Leaf: k.Leaf, KID: k.KID, BaseKey: append([]byte(nil), key...)}
		}
	})
	if err != nil {
		out.Erase()
		return nil, classify("sframe keys", err)
	}
	return out, nil
}
