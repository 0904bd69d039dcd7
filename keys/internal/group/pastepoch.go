package group

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Delayed application messages (RFC 9420 §14). A member that moved to a
// new epoch can no longer read application data sent in the previous one:
// its secrets are gone. But a message sealed just before a Commit may reach
// a member just after it (the delivery service orders Commits, not every
// member's messages against them). With Config.KeepPastEpoch the State
// keeps, of the previous epoch only, what reading application messages
// needs — the secret tree, sender_data_secret, the GroupContext and the
// tree of members — until ForgetPastEpoch, which the caller calls after a
// short grace period (RFC 9420 §14: "an application MAY keep ... for a
// period of time ... and then delete"). Nothing else of the epoch is kept:
// its Commits and proposals are refused as before, and each generation of
// the secret tree is still read once (a replay is refused).
type pastEpoch struct {
	fe   *framing.Epoch
	tree *tree.Tree
}

func (p *pastEpoch) erase() {
	clear(p.fe.SenderData)
	p.fe.Tree.Erase()
}

// keepPast keeps old's application-message secrets as the past epoch,
// erasing any older one. The caller erases the rest of old's secrets;
// keepPast takes copies of what it keeps.
func (s *State) keepPast(old *State) {
	if s.past != nil {
		s.past.erase()
		s.past = nil
	}
	if !s.cfg.KeepPastEpoch || old.epoch == nil || old.secrets == nil {
		return
	}
	gc := old.gc
	s.past = &pastEpoch{
		fe: &framing.Epoch{Suite: old.suite, GroupContext: &gc, GroupContextBytes: old.gcBytes,
			SenderData: schedule.SenderDataSecret(bytes.Clone(old.epoch.SenderData)), Tree: old.secrets},
		tree: old.tree,
	}
}

// ForgetPastEpoch erases what was kept of the previous epoch: its
// application messages can no longer be read.
func (s *State) ForgetPastEpoch() {
	if s.past != nil {
		s.past.erase()
		s.past = nil
	}
}

// PastTree returns the tree of the kept previous epoch, or nil.
func (s *State) PastTree() *tree.Tree {
	if s.past == nil {
		return nil
	}
	return s.past.tree
}

// processPast reads an application message of the kept previous epoch. It
// refuses anything else of that epoch.
func (s *State) processPast(m *wire.MLSMessage) (*Processed, error) {
	p := s.past
	key := func(c *wire.FramedContent) (suite.SignaturePublicKey, error) {
		if c.Sender.Type != wire.SenderMember {
			return nil, fmt.Errorf("%w: sender type %d", ErrNotMember, c.Sender.Type)
		}
		ln := p.tree.Leaf(treemath.LeafIndex(c.Sender.LeafIndex))
		if ln == nil {
			return nil, fmt.Errorf("%w: leaf %d", ErrNotMember, c.Sender.LeafIndex)
		}
		return suite.SignaturePublicKey(ln.SignatureKey), nil
	}
	u, err := framing.Unprotect(p.fe, m, key)
	if err != nil {
		return nil, err
	}
	c := &u.Content.Content
	if c.ContentType != wire.ContentApplication {
		return nil, fmt.Errorf("%w: a handshake message of the previous epoch", framing.ErrWrongEpoch)
	}
	if err := u.Consume(); err != nil {
		return nil, err
	}
	return &Processed{Kind: KindApplication, Sender: treemath.LeafIndex(c.Sender.LeafIndex), Data: c.ApplicationData,
		Epoch: p.fe.GroupContext.Epoch}, nil
}

// isWrongEpoch reports an error of a message of another epoch.
func isWrongEpoch(err error) bool { return errors.Is(err, framing.ErrWrongEpoch) }
