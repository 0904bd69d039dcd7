package group

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/secrettree"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Config holds the choices of a group member. The zero value is usable.
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.Reader.
	Rand io.Reader
	// Now returns the current time, for KeyPackage lifetimes; nil means
	// time.Now.
	Now func() time.Time
	// SecretTree bounds the out-of-order window of the secret tree.
	SecretTree secrettree.Config
	// PadBlock pads PrivateMessage plaintexts to a multiple of this many
	// bytes (RFC 9420 §6.3.1). Zero means 32.
	PadBlock int
	// PublicCommits sends Commits as PublicMessage; by default they are
	// PrivateMessages, which hide the roster change from the delivery
	// service.
	PublicCommits bool
	// ExternalPSKs are the external pre-shared keys this member holds,
	// by psk_id (RFC 9420 §8.4). A Commit that injects one it does not
	// hold is rejected.
	ExternalPSKs map[string][]byte
	// ResumptionPSKs is how many past epochs' resumption_psk (RFC 9420
	// §8.6) the member keeps, so that a Commit can inject one. Zero keeps
	// none: every epoch secret is erased when the epoch ends.
	ResumptionPSKs int
	// KeepPastEpoch keeps, of the previous epoch, what reading its
	// application messages needs, until ForgetPastEpoch (RFC 9420 §14;
	// see pastepoch.go). Off, every secret of an epoch is erased as soon
	// as the next one begins.
	KeepPastEpoch bool
	// Credentials validates the credentials of leaves entering or
	// changing in the tree, and keeps identities unique; nil checks
	// nothing beyond RFC 9420's own rules.
	Credentials CredentialPolicy
	// RatchetTreeOutOfBand leaves the ratchet_tree extension out of the
	// Welcomes this member creates: the new members then get the tree by
	// other means (RFC 9420 §12.4.3.3) and pass it to Join. GroupInfo
	// always carries the tree.
	RatchetTreeOutOfBand bool
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Config) padBlock() int {
	if c.PadBlock == 0 {
		return 32
	}
	return c.PadBlock
}

// State is one member's view of one epoch of a group. Every method that
// moves the group forward builds the next State aside and installs it only
// when every check has passed, so a failed call leaves the State as it was.
// A State is not safe for concurrent use.
type State struct {
	cfg   Config
	suite *suite.Suite
	sig   *suite.SignaturePrivateKey // the member's signing key, not owned

	gc      wire.GroupContext
	gcBytes []byte
	tree    *tree.Tree
	priv    *tree.PrivateTree
	own     treemath.LeafIndex
	epoch   *schedule.Epoch
	secrets *secrettree.Tree
	interim []byte // interim transcript hash

	// proposals are the proposals received in this epoch, which a Commit
	// may cover by reference (RFC 9420 §12.4).
	proposals []cachedProposal
	// resumption holds the resumption_psk of past epochs, newest last,
	// at most cfg.ResumptionPSKs of them.
	resumption []pastPSK

	pending *Pending
	removed bool
	// past is what is kept of the previous epoch (Config.KeepPastEpoch).
	past *pastEpoch
	// joining marks the State of an external joiner (JoinExternal) whose
	// Commit is pending: it holds the public state of the GroupInfo's
	// epoch and no secrets of it, and becomes a member only by
	// MergePending.
	joining bool
}

type pastPSK struct {
	epoch uint64
	psk   []byte
}

// cachedProposal is a proposal received in the current epoch.
type cachedProposal struct {
	ref      []byte
	proposal *wire.Proposal
	sender   wire.Sender
}

// Suite returns the cipher suite of the group.
func (s *State) Suite() *suite.Suite { return s.suite }

// GroupContext returns the GroupContext of the current epoch. The caller
// must not modify it.
func (s *State) GroupContext() *wire.GroupContext { return &s.gc }

// Tree returns the ratchet tree of the current epoch. The caller must not
// modify it.
func (s *State) Tree() *tree.Tree { return s.tree }

// OwnLeaf returns the member's leaf index.
func (s *State) OwnLeaf() treemath.LeafIndex { return s.own }

// EpochAuthenticator returns the epoch_authenticator (RFC 9420 §8.7), or
// nil if the State holds no epoch secrets. The caller must not modify it.
func (s *State) EpochAuthenticator() []byte {
	if s.epoch == nil {
		return nil
	}
	return s.epoch.Authenticator
}

// Export implements MLS-Exporter (RFC 9420 §8.5) for the current epoch.
func (s *State) Export(label string, context []byte, length uint16) ([]byte, error) {
	if err := s.notMember(); err != nil {
		return nil, err
	}
	return s.epoch.Export(label, context, length)
}

// Removed reports whether a Commit removed this member from the group.
func (s *State) Removed() bool { return s.removed }

// Joining reports whether the State is an external joiner's whose Commit
// is not merged (JoinExternal): it is not a member yet.
func (s *State) Joining() bool { return s.joining }

// notMember returns the error for a State that cannot act as a member, or
// nil.
func (s *State) notMember() error {
	switch {
	case s.removed:
		return fmt.Errorf("%w: removed from the group", ErrNotMember)
	case s.joining:
		return fmt.Errorf("%w: not a member until the external Commit is merged", ErrNotMember)
	}
	return nil
}

// Erase zeroes every secret the State holds. The State is unusable after.
func (s *State) Erase() {
	if s.epoch != nil {
		s.epoch.Erase()
		if s.epoch.Init != nil {
			s.epoch.Init.Erase()
		}
	}
	if s.secrets != nil {
		s.secrets.Erase()
	}
	if s.priv != nil {
		s.priv.Erase()
	}
	if s.pending != nil {
		s.pending.erase()
		s.pending = nil
	}
	for _, p := range s.resumption {
		clear(p.psk)
	}
	s.resumption = nil
	s.ForgetPastEpoch()
}

// TestingOnlyEpochSecrets returns the live secret buffers of the current
// epoch, so that tests can check that they are zeroed once the epoch ends.
func (s *State) TestingOnlyEpochSecrets() [][]byte {
	if s.epoch == nil {
		return nil
	}
	return testingOnlySecrets(s.epoch)
}

// testingOnlySecrets lists e's live secret buffers: the §8 table's secrets
// a member keeps, then the next epoch's init_secret.
func testingOnlySecrets(e *schedule.Epoch) [][]byte {
	out := [][]byte{e.SenderData, e.Exporter, e.Confirmation, e.Membership, e.Resumption, e.Authenticator, e.External}
	if e.Init != nil && e.Init.TestingOnlyBytes() != nil {
		out = append(out, e.Init.TestingOnlyBytes())
	}
	return out
}

// framingEpoch returns what package framing needs of the current epoch.
func (s *State) framingEpoch() *framing.Epoch {
	return &framing.Epoch{Suite: s.suite, GroupContext: &s.gc, GroupContextBytes: s.gcBytes,
		SenderData: s.epoch.SenderData, Membership: s.epoch.Membership, Tree: s.secrets}
}

// memberKey looks up the signature key of a member sender in the current
// tree (framing.KeyLookup).
func (s *State) memberKey(c *wire.FramedContent) (suite.SignaturePublicKey, error) {
	if c.Sender.Type == wire.SenderNewMemberCommit {
		// RFC 9420 §6.1: "The signature key in the LeafNode in the
		// Commit's path"; an external Commit must carry one (§12.4.3.2).
		if c.ContentType != wire.ContentCommit || c.Commit == nil || c.Commit.Path == nil {
			return nil, fmt.Errorf("%w: external Commit without an UpdatePath", ErrInvalid)
		}
		return suite.SignaturePublicKey(c.Commit.Path.LeafNode.SignatureKey), nil
	}
	if c.Sender.Type != wire.SenderMember {
		return nil, fmt.Errorf("%w: sender type %d", ErrUnsupported, c.Sender.Type)
	}
	ln := s.tree.Leaf(treemath.LeafIndex(c.Sender.LeafIndex))
	if ln == nil {
		return nil, fmt.Errorf("%w: leaf %d", ErrNotMember, c.Sender.LeafIndex)
	}
	return suite.SignaturePublicKey(ln.SignatureKey), nil
}

// newEpoch holds a fully derived epoch that has not been installed.
type newEpoch struct {
	gc      wire.GroupContext
	gcBytes []byte
	tree    *tree.Tree
	// ps are the path secrets an UpdatePath brought, installed into the
	// member's PrivateTree with the epoch; nil for a Commit without a path.
	ps      *tree.PathSecrets
	own     treemath.LeafIndex
	epoch   *schedule.Epoch
	secrets *secrettree.Tree
	interim []byte
}

func (n *newEpoch) erase() {
	if n.epoch != nil {
		n.epoch.Erase()
		if n.epoch.Init != nil {
			n.epoch.Init.Erase()
		}
	}
	if n.secrets != nil {
		n.secrets.Erase()
	}
	if n.ps != nil {
		n.ps.Erase()
	}
}

// install makes n the current epoch and erases the previous epoch's
// secrets: forward secrecy needs them gone as soon as the group has moved on
// (RFC 9420 §8, §9.2).
//
// The member's PrivateTree takes the new path secrets and drops the keys of
// nodes the new tree no longer holds. That step checks the private keys
// against the new tree once more; should it ever fail, the member can no
// longer follow the group, and the State is erased and marked removed
// rather than left half-updated.
func (s *State) install(n *newEpoch) error {
	old := *s
	s.gc, s.gcBytes, s.tree, s.own = n.gc, n.gcBytes, n.tree, n.own
	s.epoch, s.secrets, s.interim = n.epoch, n.secrets, n.interim
	s.proposals = nil
	if old.pending != nil && old.pending.next != n {
		old.pending.erase()
	}
	s.pending = nil
	if old.joining {
		// An external joiner's first epoch: it had no secrets before, and
		// its private tree is the UpdatePath it made (n.ps).
		s.joining = false
		s.priv = tree.NewPrivateTree(s.suite, n.own, nil)
		err := s.priv.Apply(s.tree, n.ps)
		n.ps = nil
		if err != nil {
			s.Erase()
			s.removed = true
			return fmt.Errorf("mls group: private tree out of step with the new epoch: %w", err)
		}
		return nil
	}
	if s.cfg.ResumptionPSKs > 0 {
		s.resumption = append(s.resumption, pastPSK{epoch: old.gc.Epoch, psk: bytes.Clone(old.epoch.Resumption)})
		if extra := len(s.resumption) - s.cfg.ResumptionPSKs; extra > 0 {
			for _, p := range s.resumption[:extra] {
				clear(p.psk)
			}
			s.resumption = append(s.resumption[:0], s.resumption[extra:]...)
		}
	}
	s.keepPast(&old)
	old.epoch.Erase()
	old.epoch.Init.Erase()
	if s.past == nil || s.past.fe.Tree != old.secrets {
		old.secrets.Erase()
	}
	var err error
	if n.ps != nil {
		err = s.priv.Apply(s.tree, n.ps)
		n.ps = nil
	} else {
		s.priv.Prune(s.tree)
		err = s.priv.Check(s.tree)
	}
	if err != nil {
		s.Erase()
		s.removed = true
		return fmt.Errorf("mls group: private tree out of step with the new epoch: %w", err)
	}
	return nil
}

// deriveEpoch runs the key schedule of RFC 9420 §8 from the previous
// epoch's init_secret (or a joiner_secret) to the new epoch's secrets and
// secret tree, and checks or computes the confirmation tag.
func deriveEpoch(s *suite.Suite, cfg *Config, joiner *schedule.JoinerSecret, psk *schedule.PSKSecret, gcBytes []byte, leaves treemath.LeafCount) (*schedule.Epoch, *secrettree.Tree, error) {
	es, err := joiner.EpochSecret(psk, gcBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("mls group: epoch_secret: %w", err)
	}
	ep, err := es.Derive()
	es.Erase()
	if err != nil {
		return nil, nil, fmt.Errorf("mls group: epoch secrets: %w", err)
	}
	st, err := secrettree.New(s, ep.Encryption, leaves, cfg.SecretTree)
	if err != nil {
		ep.Erase()
		ep.Init.Erase()
		return nil, nil, fmt.Errorf("mls group: secret tree: %w", err)
	}
	// The secret tree holds its own copy; encryption_secret is not needed
	// again (RFC 9420 §9.2).
	clear(ep.Encryption)
	return ep, st, nil
}

func encodeGC(gc *wire.GroupContext) ([]byte, error) {
	b, err := codec.Marshal(gc)
	if err != nil {
		return nil, fmt.Errorf("mls group: GroupContext: %w", err)
	}
	return b, nil
}

// interimHash computes interim_transcript_hash from the confirmed hash and
// the confirmation tag (RFC 9420 §8.2).
func interimHash(s *suite.Suite, confirmed, tag []byte) ([]byte, error) {
	in, err := wire.InterimTranscriptHashInput(tag)
	if err != nil {
		return nil, fmt.Errorf("mls group: InterimTranscriptHashInput: %w", err)
	}
	return schedule.InterimTranscriptHash(s, confirmed, in), nil
}

// Create starts a new group with this member alone at leaf 0, in epoch 0
// (RFC 9420 §11): a one-leaf tree, an empty confirmed transcript hash,
// a random init_secret and an all-zero commit_secret.
func Create(s *suite.Suite, cfg Config, sig *suite.SignaturePrivateKey, cred wire.Credential, groupID []byte) (*State, error) {
	leafKey, err := s.GenerateHPKEKey(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls group: leaf key: %w", err)
	}
	now := cfg.now()
	ln := &wire.LeafNode{
		EncryptionKey: wire.HPKEPublicKey(leafKey.Public()),
		SignatureKey:  wire.SignaturePublicKey(sig.Public()),
		Credential:    cred,
		Capabilities:  Capabilities(s),
		Source:        wire.SourceKeyPackage,
		Lifetime:      wire.Lifetime{NotBefore: uint64(max(0, now.Unix())), NotAfter: uint64(max(0, now.Add(90*24*time.Hour).Unix()))},
		Extensions:    []wire.Extension{},
	}
	if err := SignLeafNode(s, ln, sig, nil, 0); err != nil {
		return nil, err
	}
	t := tree.New(s, ln)
	th, err := t.TreeHash()
	if err != nil {
		return nil, fmt.Errorf("mls group: tree hash: %w", err)
	}
	st := &State{cfg: cfg, suite: s, sig: sig, tree: t, own: 0,
		priv: tree.NewPrivateTree(s, 0, leafKey)}
	st.gc = wire.GroupContext{Version: wire.MLS10, CipherSuite: wire.CipherSuite(s.ID()), GroupID: bytes.Clone(groupID),
		Epoch: 0, TreeHash: th, ConfirmedTranscriptHash: []byte{}, Extensions: []wire.Extension{}}
	if st.gcBytes, err = encodeGC(&st.gc); err != nil {
		return nil, err
	}
	init, err := schedule.GenerateInitSecret(s, cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls group: init_secret: %w", err)
	}
	joiner, err := init.Joiner(nil, st.gcBytes)
	init.Erase()
	if err != nil {
		return nil, fmt.Errorf("mls group: joiner_secret: %w", err)
	}
	defer joiner.Erase()
	psk, err := schedule.ComputePSKSecret(s, nil)
	if err != nil {
		return nil, fmt.Errorf("mls group: psk_secret: %w", err)
	}
	if st.epoch, st.secrets, err = deriveEpoch(s, &cfg, joiner, psk, st.gcBytes, t.LeafCount()); err != nil {
		return nil, err
	}
	// §8.2: the interim transcript hash of epoch 0 uses the confirmation
	// tag computed over the empty confirmed transcript hash.
	tag, err := st.epoch.ConfirmationTag(st.gc.ConfirmedTranscriptHash)
	if err != nil {
		return nil, fmt.Errorf("mls group: confirmation tag: %w", err)
	}
	if st.interim, err = interimHash(s, st.gc.ConfirmedTranscriptHash, tag); err != nil {
		return nil, err
	}
	return st, nil
}

// TestingOnlyImpersonate returns a throwaway copy of s that acts as the
// member at leaf, signing with sig, for benchmarks that need Commits from
// members whose states they do not keep (to fill a large tree's parent
// nodes). The copy shares s's epoch secrets and tree: it may create Commits
// (sent as PublicMessage, so that s's secret tree is not used) and must
// then be discarded with ClearPending, never merged or erased.
func (s *State) TestingOnlyImpersonate(leaf treemath.LeafIndex, sig *suite.SignaturePrivateKey) *State {
	c := *s
	c.own, c.sig, c.pending = leaf, sig, nil
	c.cfg.PublicCommits = true
	c.priv = nil
	return &c
}
