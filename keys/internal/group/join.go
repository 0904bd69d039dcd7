package group

import (
	"bytes"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Join joins a group from a Welcome addressed to the KeyPackage kp (RFC 9420
// §12.4.3.1). ratchetTree is the tree when it is not in the GroupInfo's
// ratchet_tree extension (nil otherwise). In order:
//
//  1. decrypt our GroupSecrets with the init key, compute psk_secret and
//     welcome_secret, and decrypt the GroupInfo; check its extensions
//     (§13.4: none twice, every GroupContext extension supported);
//  2. take the tree, validate it (§7.3, §7.9.2, §12.4.3.1), check that its
//     hash is the GroupContext's tree_hash, and verify the GroupInfo's
//     signature under the signer's leaf;
//  3. find our leaf (the KeyPackage's leaf node) and implant the path secret
//     of the lowest node we share with the signer, checking each derived
//     public key against the tree;
//  4. run the key schedule from joiner_secret and verify the confirmation
//     tag.
//
// On success the KeyPackage's secrets belong to the State (the init key is
// erased: a KeyPackage is used once); on failure they are left to the
// caller.
func Join(s *suite.Suite, cfg Config, sig *suite.SignaturePrivateKey, kp *wire.KeyPackage, kps *KeyPackageSecrets, w *wire.Welcome, ratchetTree wire.RatchetTree) (*State, error) {
	ref, err := KeyPackageRef(s, kp)
	if err != nil {
		return nil, err
	}
	gs, err := OpenGroupSecrets(s, w, ref, kps.Init)
	if err != nil {
		return nil, err
	}
	defer clear(gs.JoinerSecret)
	if gs.PathSecret != nil {
		defer clear(gs.PathSecret.PathSecret)
	}
	psk, err := computePSKSecret(s, &cfg, nil, gs.PSKs)
	if err != nil {
		return nil, err
	}
	defer psk.Erase()
	joiner, err := schedule.NewJoinerSecret(s, gs.JoinerSecret)
	if err != nil {
		return nil, fmt.Errorf("%w: joiner_secret: %w", ErrInvalid, err)
	}
	defer joiner.Erase()
	gi, err := OpenGroupInfo(joiner, psk, w.EncryptedGroupInfo)
	if err != nil {
		return nil, err
	}
	gc := &gi.GroupContext
	t, err := verifyGroupInfo(s, &cfg, gi, ratchetTree, &kp.LeafNode.Capabilities)
	if err != nil {
		return nil, err
	}

	// Our leaf and private tree.
	want, err := codec.Marshal(&kp.LeafNode)
	if err != nil {
		return nil, fmt.Errorf("mls group: leaf node: %w", err)
	}
	own := treemath.LeafIndex(t.LeafCount())
	t.Members(func(l treemath.LeafIndex, ln *wire.LeafNode) {
		if enc, err := codec.Marshal(ln); err == nil && bytes.Equal(enc, want) {
			own = l
		}
	})
	if own == treemath.LeafIndex(t.LeafCount()) {
		return nil, fmt.Errorf("%w: our leaf is not in the tree", ErrInvalid)
	}
	priv := tree.NewPrivateTree(s, own, kps.Leaf)
	if gs.PathSecret != nil {
		x := treemath.CommonAncestor(own.Node(), treemath.LeafIndex(gi.Signer).Node())
		if err := priv.ImplantPathSecret(t, x, gs.PathSecret.PathSecret); err != nil {
			return nil, fmt.Errorf("%w: path secret: %w", ErrInvalid, err)
		}
	} else if err := priv.Check(t); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}

	// The key schedule and the confirmation tag.
	st := &State{cfg: cfg, suite: s, sig: sig, tree: t, own: own, priv: priv, gc: *gc}
	if st.gcBytes, err = encodeGC(gc); err != nil {
		return nil, err
	}
	if st.epoch, st.secrets, err = deriveEpoch(s, &cfg, joiner, psk, st.gcBytes, t.LeafCount()); err != nil {
		return nil, err
	}
	if !st.epoch.VerifyConfirmationTag(gc.ConfirmedTranscriptHash, gi.ConfirmationTag) {
		st.epoch.Erase()
		st.epoch.Init.Erase()
		st.secrets.Erase()
		return nil, fmt.Errorf("%w: GroupInfo confirmation tag", ErrAuthentication)
	}
	if st.interim, err = interimHash(s, gc.ConfirmedTranscriptHash, gi.ConfirmationTag); err != nil {
		return nil, err
	}
	kps.Init.Erase()
	return st, nil
}

// verifyGroupInfo runs the checks a joiner makes on a GroupInfo and the
// tree it describes, whether it joins by Welcome (RFC 9420 §12.4.3.1) or by
// external Commit (§12.4.3.2), and returns the tree:
//
//   - version mls10 and the group's cipher suite;
//   - the extensions (§13.4, [checkGroupInfoExtensions]) against the
//     joiner's capabilities caps;
//   - the tree, from the ratchet_tree extension or else ratchetTree (out of
//     band, §12.4.3.3), but not both: valid (§7.3, §7.9.2, §12.4.3.1),
//     passing the application's credential policy for every leaf, and
//     hashing to the GroupContext's tree_hash;
//   - the signature, under the key of the non-blank leaf signer.
//
// The confirmation tag needs the epoch's secrets: a Welcome joiner checks
// it after the key schedule; an external joiner cannot, and relies on the
// signature.
func verifyGroupInfo(s *suite.Suite, cfg *Config, gi *wire.GroupInfo, ratchetTree wire.RatchetTree, caps *wire.Capabilities) (*tree.Tree, error) {
	gc := &gi.GroupContext
	if gc.Version != wire.MLS10 || gc.CipherSuite != wire.CipherSuite(s.ID()) {
		return nil, fmt.Errorf("%w: GroupContext version %d, suite %#04x", ErrInvalid, gc.Version, gc.CipherSuite)
	}
	if err := checkGroupInfoExtensions(gi, caps); err != nil {
		return nil, err
	}
	for _, e := range gi.Extensions {
		if e.Type == wire.ExtensionRatchetTree {
			if ratchetTree != nil {
				return nil, fmt.Errorf("%w: two ratchet trees", ErrInvalid)
			}
			if err := codec.Unmarshal(e.Data, &ratchetTree); err != nil {
				return nil, fmt.Errorf("mls group: ratchet_tree: %w", err)
			}
		}
	}
	if ratchetTree == nil {
		return nil, fmt.Errorf("%w: no ratchet tree", ErrInvalid)
	}
	t, err := tree.FromRatchetTree(s, ratchetTree)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	required, err := requiredCapabilities(gc.Extensions)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(gc.GroupID, required); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := cfg.checkMembers(nil, t, nil); err != nil {
		return nil, err
	}
	th, err := t.TreeHash()
	if err != nil {
		return nil, fmt.Errorf("mls group: tree hash: %w", err)
	}
	if !bytes.Equal(th, gc.TreeHash) {
		return nil, fmt.Errorf("%w: tree hash differs from the GroupContext's", ErrInvalid)
	}
	signer := t.Leaf(treemath.LeafIndex(gi.Signer))
	if signer == nil {
		return nil, fmt.Errorf("%w: GroupInfo signer is not a member", ErrInvalid)
	}
	if err := VerifyGroupInfo(s, gi, suite.SignaturePublicKey(signer.SignatureKey)); err != nil {
		return nil, err
	}
	return t, nil
}
