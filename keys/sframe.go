package keys

import (
	"bytes"
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
// member's). BaseKey is secret; it is the epoch's base_key, the same for
// every member (RFC 9605 §5.2), and KID makes each sender's key its own.
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

// SFrameKeys derives the SFrame keys of every member for the current epoch
// exactly as RFC 9605 §5.2 specifies:
//
//	base_key = MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk)
//	KID      = (leaf_index << E) | (epoch mod 2^E)      (context 0, E = 8)
//
// with Nk = 16, the key size of the default SFrame suite
// AES_128_GCM_SHA256_128. Every member gets the same base_key; what separates
// the senders is the KID, which SFrame's own derivation puts into each
// sender's key and salt (RFC 9605 §4.4.2: "SFrame 1.0 Secret key " ‖ KID ‖
// suite). There is no further per-sender step, so any RFC 9605
// implementation keyed from the same MLS group reads Tresor's media.
func (g *Group) SFrameKeys() (*EpochKeys, error) {
	if !g.Active() {
		return nil, g.errInactive()
	}
	base, err := g.st.Export(sframeExporterLabel, nil, uint16(defaultSuite().Nk()))
	if err != nil {
		return nil, classify("sframe keys", err)
	}
	defer clear(base)
	epoch := g.Epoch()
	out := &EpochKeys{Epoch: epoch}
	own := uint32(g.st.OwnLeaf())
	g.st.Tree().Members(func(l treemath.LeafIndex, _ *wire.LeafNode) {
		k := SFrameKey{Leaf: uint32(l), KID: KID(uint32(l), epoch), BaseKey: bytes.Clone(base)}
		out.Members = append(out.Members, k)
		if k.Leaf == own {
			out.Own = SFrameKey{Leaf: k.Leaf, KID: k.KID, BaseKey: bytes.Clone(base)}
		}
	})
	return out, nil
}
