package keys

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/group"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Config holds optional settings. A nil *Config selects the defaults.
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.Reader.
	// Only tests should set it.
	Rand io.Reader
	// Now returns the current time, for KeyPackage lifetimes; nil means
	// time.Now.
	Now func() time.Time
	// KeyPackageLifetime is how long a new KeyPackage is valid; zero
	// means DefaultKeyPackageLifetime.
	KeyPackageLifetime time.Duration
	// Logger receives one Debug record per rejected message (its error
	// class and epoch, never a secret); nil discards.
	Logger *slog.Logger
	// KeepPastEpoch keeps, when the group moves to a new epoch, what
	// reading the previous epoch's application messages needs (its secret
	// tree and sender_data_secret), so that a chat message sealed just
	// before a Commit still reads after it (RFC 9420 §14). Call
	// [Group.ForgetPastEpoch] after a short grace period: until then those
	// secrets stay in memory, and a compromise of this member reveals that
	// epoch's remaining application messages. Off (the default), every
	// secret of an epoch is erased as soon as the next begins.
	KeepPastEpoch bool
	// Authority is the application backend that vouches for members. When
	// set, every leaf must carry the backend's [Assertion] for this room
	// and its own signature key: [Join], [JoinExternal], [Group.Process]
	// and [Group.CreateCommit] refuse any other (RFC 9420 §5.3.1 leaves
	// credential validation to the application), and this client's own
	// [Identity] needs one too ([Identity.SetAssertion]). When nil, names
	// are self-chosen and no member is [Member.Verified]: the client must
	// say so to its user. Either way a group never holds two leaves of
	// one identity.
	Authority *Authority
}

func (c *Config) orDefault() *Config {
	if c == nil {
		return &Config{}
	}
	return c
}

func (c *Config) rand() io.Reader { return randOr(c.Rand) }

func (c *Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Config) policy() credentialPolicy { return credentialPolicy{auth: c.Authority, now: c.now} }

func (c *Config) internal() group.Config {
	return group.Config{Rand: c.Rand, Now: c.Now, Credentials: c.policy(), KeepPastEpoch: c.KeepPastEpoch}
}

// checkOwn checks that this client's own credential passes the group's
// policy, so that a client without the assertion an Authority requires
// fails at once instead of being refused by every member.
func (c *Config) checkOwn(id *Identity) error {
	cred := id.credential()
	if _, err := c.policy().Validate(&cred, id.key.Public(), true); err != nil {
		return fmt.Errorf("keys: own credential: %w", err)
	}
	return nil
}

// A Group is one member's state of an MLS group (RFC 9420): the ratchet
// tree of members, the key schedule of the current epoch and the secret tree
// for messages. Every join, removal and update is a Commit that moves the
// group to a new epoch with fresh secrets; the previous epoch's secrets are
// zeroed as soon as the new epoch begins.
//
// A Group changes only through [Group.MergePendingCommit] and through
// messages that [Group.Process] accepts; every call that fails leaves it
// unchanged. A Group is not safe for concurrent use.
type Group struct {
	_     [0]func() // not comparable
	id    *Identity
	cfg   *Config
	st    *group.State
	stats Stats
}

// Stats counts the messages a Group processed and rejected.
type Stats struct {
	Processed, Rejected uint64
}

// Stats returns the Group's counters.
func (g *Group) Stats() Stats { return g.stats }

// NewGroup creates a group with id as its only member, in epoch 0 (RFC 9420
// §11), with a random 32-byte group ID. cfg may be nil.
func NewGroup(id *Identity, cfg *Config) (*Group, error) {
	if id == nil {
		return nil, errNilIdentity
	}
	c := cfg.orDefault()
	if err := c.checkOwn(id); err != nil {
		return nil, err
	}
	gid := make([]byte, 32)
	if _, err := io.ReadFull(c.rand(), gid); err != nil {
		return nil, fmt.Errorf("keys: group ID: %w", err)
	}
	st, err := group.Create(defaultSuite(), c.internal(), id.key, id.credential(), gid)
	if err != nil {
		return nil, classify("create group", err)
	}
	return &Group{id: id, cfg: c, st: st}, nil
}

// Join joins a group from a Welcome (an MLSMessage, RFC 9420 §12.4.3.1)
// addressed to kp, which must carry the ratchet_tree extension (Tresor
// committers always include it; see [JoinWithRatchetTree] otherwise). It
// checks the tree (§7.9.2, §12.4.3.1), the GroupInfo's signature and
// confirmation tag, and the path secret. On success kp is used up. cfg may
// be nil.
func Join(id *Identity, kp *KeyPackage, welcome []byte, cfg *Config) (*Group, error) {
	return join(id, kp, welcome, nil, cfg)
}

// JoinWithRatchetTree is [Join] for a Welcome without the ratchet_tree
// extension: the tree comes out of band (RFC 9420 §12.4.3.3: "the client
// MUST download the tree before processing the Welcome"), for instance
// from a cache of the delivery service, encoded as the extension's data
// (optional<Node> ratchet_tree<V>, what [Group.RatchetTree] returns). The
// source of the tree need not be trusted: Join checks it against the tree
// hash of the signed GroupInfo, and validates it as it validates a tree in
// the Welcome. A Welcome that carries a tree as well is refused.
func JoinWithRatchetTree(id *Identity, kp *KeyPackage, welcome, ratchetTree []byte, cfg *Config) (*Group, error) {
	var rt wire.RatchetTree
	if err := codec.Unmarshal(ratchetTree, &rt); err != nil {
		return nil, fmt.Errorf("%w: ratchet tree: %v", ErrMalformed, err)
	}
	if rt == nil {
		rt = wire.RatchetTree{}
	}
	return join(id, kp, welcome, rt, cfg)
}

func join(id *Identity, kp *KeyPackage, welcome []byte, rt wire.RatchetTree, cfg *Config) (*Group, error) {
	if id == nil || kp == nil {
		return nil, errNilIdentity
	}
	if kp.used {
		return nil, fmt.Errorf("%w: KeyPackage already used", ErrInvalid)
	}
	if !bytes.Equal(kp.id.key.Public(), id.key.Public()) {
		return nil, fmt.Errorf("%w: KeyPackage of another identity", ErrInvalid)
	}
	c := cfg.orDefault()
	var m wire.MLSMessage
	if err := codec.Unmarshal(welcome, &m); err != nil {
		return nil, fmt.Errorf("%w: Welcome: %v", ErrMalformed, err)
	}
	if m.WireFormat != wire.WireFormatWelcome {
		return nil, fmt.Errorf("%w: wire format %d is not a Welcome", ErrMalformed, m.WireFormat)
	}
	st, err := group.Join(defaultSuite(), c.internal(), id.key, kp.kp, kp.secrets, m.Welcome, rt)
	if err != nil {
		return nil, classify("join", err)
	}
	// The leaf key now belongs to the group, so a later kp.Erase must not
	// reach it; the init key has done its one job (RFC 9420 §16.8: a
	// KeyPackage's init key is deleted once used).
	kp.used = true
	kp.secrets.Leaf = nil
	kp.secrets.Erase()
	return &Group{id: id, cfg: c, st: st}, nil
}

// JoinExternal joins, or rejoins, a group by an external Commit (RFC 9420
// §12.4.3.2) from groupInfo, an MLSMessage carrying a GroupInfo with the
// ratchet_tree and external_pub extensions ([Group.GroupInfo] makes one).
// It is how a client that lost its state, or missed a Commit, resyncs: its
// members accept an external Commit only if it replaces the joiner's own
// old leaf (see the package documentation, "Resync").
//
// JoinExternal first checks the GroupInfo as [Join] checks a Welcome's: the
// signature by the member at its signer leaf, the tree's validity (§7.9.2,
// §12.4.3.1) and hash, and with [Config.Authority] that every leaf is
// vouched for. It then builds the Commit, sent as a PublicMessage from
// sender new_member_commit (§6) with no membership tag:
//
//	proposals: ExternalInit{kem_output}       kem_output, ctx = SetupBaseS(external_pub, "")
//	           Remove{old leaf}               if a leaf names id's identity (§12.2)
//	path:      UpdatePath from id's new leaf  the leftmost blank leaf (§12.4.2)
//	init_secret = ctx.export("MLS 1.0 external init secret", KDF.Nh)   (§8.3)
//
// and the confirmation tag of the new epoch. The returned Group is not a
// member yet ([Group.Active] is false): send Commit.Message to the
// delivery service and call [Group.MergePendingCommit] once it is
// accepted; if it is not (the group moved on), call
// [Group.ClearPendingCommit] or [Group.Close] and try again from a newer
// GroupInfo. cfg may be nil.
func JoinExternal(id *Identity, groupInfo []byte, cfg *Config) (*Group, *Commit, error) {
	if id == nil {
		return nil, nil, errNilIdentity
	}
	c := cfg.orDefault()
	if err := c.checkOwn(id); err != nil {
		return nil, nil, err
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(groupInfo, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: GroupInfo: %v", ErrMalformed, err)
	}
	if m.WireFormat != wire.WireFormatGroupInfo {
		return nil, nil, fmt.Errorf("%w: wire format %d is not a GroupInfo", ErrMalformed, m.WireFormat)
	}
	st, err := group.JoinExternal(defaultSuite(), c.internal(), id.key, id.credential(), m.GroupInfo, nil)
	if err != nil {
		return nil, nil, classify("join external", err)
	}
	g := &Group{id: id, cfg: c, st: st}
	return g, &Commit{Message: bytes.Clone(st.Pending().Commit), Epoch: g.Epoch() + 1}, nil
}

// GroupID returns the group's ID.
func (g *Group) GroupID() []byte { return bytes.Clone(g.st.GroupContext().GroupID) }

// Epoch returns the current epoch number (RFC 9420 §8.1).
func (g *Group) Epoch() uint64 { return g.st.GroupContext().Epoch }

// Active reports whether this client is a member. It is false once a
// Commit removed it, the Group then holding no secrets, and for a Group of
// [JoinExternal] until its Commit is merged.
func (g *Group) Active() bool { return !g.st.Removed() && !g.st.Joining() }

// errInactive is the error of a Group that is not [Group.Active].
func (g *Group) errInactive() error {
	if g.st.Joining() {
		return fmt.Errorf("%w: external Commit not merged", ErrNotMember)
	}
	return fmt.Errorf("%w: removed from the group", ErrNotMember)
}

// Self returns this client's member entry.
func (g *Group) Self() Member {
	l := g.st.OwnLeaf()
	if ln := g.st.Tree().Leaf(l); ln != nil && !g.st.Joining() {
		return g.cfg.policy().member(uint32(l), ln)
	}
	return Member{Leaf: uint32(l), Identity: g.id.name, Name: g.id.name, SignatureKey: g.id.PublicKey()}
}

// Members returns the members of the current epoch in leaf order: the MLS
// roster, which is what a client should display (not the server's list).
func (g *Group) Members() []Member {
	var out []Member
	g.st.Tree().Members(func(l treemath.LeafIndex, ln *wire.LeafNode) {
		out = append(out, g.cfg.policy().member(uint32(l), ln))
	})
	return out
}

func (g *Group) member(l uint32) Member {
	if ln := g.st.Tree().Leaf(treemath.LeafIndex(l)); ln != nil {
		return g.cfg.policy().member(l, ln)
	}
	return Member{Leaf: l}
}

// Commit is a Commit created by [Group.CreateCommit], waiting for the
// delivery service.
type Commit struct {
	// Message is the MLSMessage carrying the Commit, for every member.
	// It is a PrivateMessage (RFC 9420 §6.3): the delivery service sees
	// the group ID, the epoch and that it is a Commit, not its contents.
	Message []byte
	// Welcome is the MLSMessage for the added clients, or nil.
	Welcome []byte
	// Epoch is the epoch the Commit starts once merged.
	Epoch uint64
}

// CreateCommit creates a Commit (RFC 9420 §12.4) that adds the clients of
// the KeyPackages add (MLSMessages, as [KeyPackage.Bytes] makes them),
// removes the members at the leaf indices remove, and always refreshes this
// member's own leaf and path with an UpdatePath. With nothing to add or
// remove it is the periodic update that gives the group post-compromise
// security.
//
// The Group does not change: the caller sends Commit.Message (and
// Commit.Welcome) to the delivery service, which accepts one Commit per
// epoch, and then calls [Group.MergePendingCommit] if it was accepted or
// [Group.ClearPendingCommit] if another member's Commit won, which it then
// processes. Processing another member's Commit also discards the pending
// one.
func (g *Group) CreateCommit(add [][]byte, remove []uint32) (*Commit, error) {
	adds := make([]*wire.KeyPackage, 0, len(add))
	for _, msg := range add {
		kp, err := decodeKeyPackage(msg)
		if err != nil {
			return nil, err
		}
		adds = append(adds, kp)
	}
	removes := make([]treemath.LeafIndex, len(remove))
	for i, l := range remove {
		removes[i] = treemath.LeafIndex(l)
	}
	p, err := g.st.CreateCommit(adds, removes)
	if err != nil {
		return nil, classify("create commit", err)
	}
	return &Commit{Message: bytes.Clone(p.Commit), Welcome: bytes.Clone(p.Welcome), Epoch: g.Epoch() + 1}, nil
}

// MergePendingCommit moves the group to the epoch of the pending Commit,
// once the delivery service accepted it, and zeroes the previous epoch's
// secrets.
func (g *Group) MergePendingCommit() error {
	if err := g.st.MergePending(); err != nil {
		return classify("merge commit", err)
	}
	return nil
}

// ClearPendingCommit discards the pending Commit (the delivery service
// rejected it) and zeroes the secrets of the epoch it would have started.
func (g *Group) ClearPendingCommit() { g.st.ClearPending() }

// HasPendingCommit reports whether a Commit is waiting to be merged or
// cleared.
func (g *Group) HasPendingCommit() bool { return g.st.Pending() != nil }

// MessageKind says what a processed message carried.
type MessageKind int

// Kinds of [Message].
const (
	// Application data, e.g. a chat message (RFC 9420 §6.3).
	KindApplication MessageKind = iota + 1
	// A proposal, kept for a later Commit (RFC 9420 §12.1).
	KindProposal
	// A Commit, which moved the group to a new epoch (RFC 9420 §12.4).
	KindCommit
)

// Message is a message [Group.Process] accepted.
type Message struct {
	Kind MessageKind
	// Sender is the member that sent it, as of the epoch it was sent in.
	Sender Member
	// Data is the application data of an Application message.
	Data []byte
	// Added and Removed are the members a Commit added and removed.
	// If Removed holds this client, the Group is no longer Active.
	Added, Removed []Member
	// Epoch is the epoch the message was sent in: the current one, or, for
	// an application message read under [Config.KeepPastEpoch], the
	// previous one.
	Epoch uint64
	// External is set for an external Commit (RFC 9420 §12.4.3.2): a
	// member that lost its state rejoined. Members accept one only as
	// such a resync, so Added then holds the rejoined member (its new
	// leaf, also the Sender) and Removed its old leaf, both of the same
	// Identity; its keys changed, and so does the security code.
	External bool
}

// Process authenticates and applies a handshake or application message of
// the current epoch (an MLSMessage carrying a PublicMessage or
// PrivateMessage, RFC 9420 §6): application data is returned, and a Commit
// is fully validated (signature, membership or AEAD tags, proposals §12.2,
// UpdatePath and parent hashes §7.9, tree hash, confirmation tag §6.1)
// before the group moves to the new epoch and the previous epoch's secrets
// are zeroed. A message that fails returns an error wrapping one of this
// package's sentinels and leaves the Group unchanged.
func (g *Group) Process(msg []byte) (*Message, error) {
	m, err := g.process(msg)
	if err != nil {
		g.stats.Rejected++
		g.cfg.logger().Debug("keys: rejected message", "epoch", g.Epoch(), "err", err)
		return nil, err
	}
	g.stats.Processed++
	return m, nil
}

func (g *Group) process(msg []byte) (*Message, error) {
	if !g.Active() {
		return nil, g.errInactive()
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Members before the message, to name those a Commit removes.
	before := g.st.Tree()
	epoch := g.Epoch()
	p, err := g.st.Process(&m)
	if err != nil {
		return nil, classify("process", err)
	}
	if p.Kind == group.KindApplication && p.Epoch != epoch {
		before = g.st.PastTree() // sent in the kept previous epoch
	} else {
		p.Epoch = epoch
	}
	out := &Message{Kind: MessageKind(p.Kind), Data: p.Data, External: p.External, Epoch: p.Epoch}
	if p.External {
		// The joiner was not in the tree before its Commit.
		out.Sender = g.member(uint32(p.Sender))
	} else if ln := before.Leaf(p.Sender); ln != nil {
		out.Sender = g.cfg.policy().member(uint32(p.Sender), ln)
	}
	for _, l := range p.Removed {
		if ln := before.Leaf(l); ln != nil {
			out.Removed = append(out.Removed, g.cfg.policy().member(uint32(l), ln))
		}
	}
	for _, l := range p.Added {
		out.Added = append(out.Added, g.member(uint32(l)))
	}
	return out, nil
}

// Seal encrypts application data (e.g. a chat message) for the members of
// the current epoch as a PrivateMessage (RFC 9420 §6.3), signed by this
// member and padded to a multiple of 32 bytes.
func (g *Group) Seal(data []byte) ([]byte, error) {
	out, err := g.st.Seal(data, nil)
	if err != nil {
		return nil, classify("seal", err)
	}
	return out, nil
}

// GroupInfo returns a GroupInfo of the current epoch (RFC 9420 §12.4.3),
// as an MLSMessage signed by this member, from which a client can rejoin
// with [JoinExternal] and nothing else: it carries the ratchet_tree
// extension (§12.4.3.3) and the external_pub extension (§12.4.3.2), the
// public key of the epoch's external key pair (§8.3), derived from
// external_secret.
//
// It is public material, meant for the delivery service to keep and hand
// out; it holds no secret, but it reveals what Commits as PrivateMessages
// hide: the group ID, the epoch, the whole roster (every leaf's credential,
// with the backend's Assertion naming identity, display name and room, and
// its signature and encryption keys), the group's extensions and the
// confirmed transcript hash and confirmation tag (which bind it to the
// group's history, not to a secret). Anyone holding it can encrypt an
// init_secret to the group (external_pub); the members accept the
// resulting Commit only as a resync of a vouched member (package
// documentation, "Resync"), so it cannot be used to add anyone.
func (g *Group) GroupInfo() ([]byte, error) {
	if !g.Active() {
		return nil, g.errInactive()
	}
	out, err := g.st.GroupInfo()
	if err != nil {
		return nil, classify("group info", err)
	}
	return out, nil
}

// RatchetTree returns the current epoch's ratchet tree as the ratchet_tree
// extension encodes it (RFC 9420 §12.4.3.3), for a joiner whose Welcome
// lacks the extension ([JoinWithRatchetTree]). The tree is public: leaf
// credentials and public keys, as in [Group.GroupInfo].
func (g *Group) RatchetTree() ([]byte, error) {
	if !g.Active() {
		return nil, g.errInactive()
	}
	rt := g.st.Tree().RatchetTree()
	out, err := codec.Marshal(&rt)
	if err != nil {
		return nil, classify("ratchet tree", err)
	}
	return out, nil
}

// ForgetPastEpoch erases what [Config.KeepPastEpoch] kept of the previous
// epoch: its application messages can no longer be read.
func (g *Group) ForgetPastEpoch() { g.st.ForgetPastEpoch() }

// Close zeroes every secret the Group holds. The Group is unusable after.
func (g *Group) Close() { g.st.Erase() }

// String describes the group without its secrets.
func (g *Group) String() string {
	return fmt.Sprintf("keys.Group(epoch %d, %d members, leaf %d)", g.Epoch(), len(g.Members()), g.st.OwnLeaf())
}

// Format prints [Group.String] for every verb, so that no formatting of a
// Group can reach its secrets.
func (g *Group) Format(f fmt.State, _ rune) { io.WriteString(f, g.String()) }
