package core

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/tresor-dev/tresor/keys"
)

func memberOf(k keys.Member) Member {
	return Member{Leaf: k.Leaf, Identity: k.Identity, Name: k.Name, Verified: k.Verified, SignatureKey: bytes.Clone(k.SignatureKey)}
}

// createGroup founds the group: the server found no member online.
func (d *Driver) createGroup() {
	if d.g != nil || d.kp == nil {
		return
	}
	g, err := keys.NewGroup(d.id, d.kcfg)
	if err != nil {
		d.warn("creating the group failed", "err", err)
		return
	}
	d.kp.Erase()
	d.kp = nil
	d.g = g
	d.newEpoch(nil, nil)
	d.publishGroupInfo()
}

// welcome joins the group from a Welcome; keys checks the tree, every
// member's credential against the Authority and the GroupInfo.
func (d *Driver) welcome(m ServerMessage) {
	if d.g != nil || d.kp == nil {
		return
	}
	g, err := keys.Join(d.id, d.kp, m.Data, d.kcfg)
	if err != nil {
		d.stats.Rejected++
		d.warn("refused a Welcome", "err", err)
		return
	}
	d.stats.Processed++
	// The group owns the KeyPackage's leaf key now (keys.Join used it up).
	d.kp = nil
	d.g = g
	d.newEpoch(nil, nil)
}

// commitRequested builds the Commit the server asks for. Nothing the server
// says is taken on trust: an Add must carry a KeyPackage that passes
// keys.VerifyKeyPackage (with the Authority: vouched for by the backend for
// this room) in the very identity the server says it is for, and of an
// identity not in the group unless the same Commit removes it (a rejoin); a
// Remove names a member by the identity of its credential. What is refused
// stays out of the Commit (the server expires it).
func (d *Driver) commitRequested(m ServerMessage) {
	if !d.active() || m.Epoch == nil || *m.Epoch != d.g.Epoch() {
		return
	}
	self := d.g.Self().Leaf
	members := d.g.Members()
	leafOf := make(map[string]uint32, len(members))
	for _, mem := range members {
		leafOf[mem.Identity] = mem.Leaf
	}
	var ids []uint64
	var adds [][]byte
	var removes []uint32
	removing := map[string]bool{}
	for _, p := range m.Pending {
		if p.Kind != ProposalRemove {
			continue
		}
		ids = append(ids, p.ID)
		if l, ok := leafOf[p.Participant]; ok && l != self && !removing[p.Participant] {
			removes = append(removes, l)
			removing[p.Participant] = true
		}
	}
	adding := map[string]bool{}
	for _, p := range m.Pending {
		if p.Kind != ProposalAdd {
			continue
		}
		who, err := keys.VerifyKeyPackage(p.KeyPackage, d.kcfg)
		switch {
		case err != nil:
		case who.Identity != p.Participant:
			err = errors.New("the KeyPackage is another participant's")
		case adding[who.Identity]:
			err = errors.New("a second KeyPackage of the participant")
		case func() bool { _, in := leafOf[who.Identity]; return in && !removing[who.Identity] }():
			err = errors.New("the participant is already a member")
		}
		if err != nil {
			d.stats.RefusedKeyPackages++
			d.warn("refused to add a KeyPackage", "participant", p.Participant, "err", err)
			continue
		}
		adding[who.Identity] = true
		ids = append(ids, p.ID)
		adds = append(adds, p.KeyPackage)
	}
	if len(ids) == 0 {
		return
	}
	d.commit(ids, adds, removes, false)
}

// commit creates a Commit and asks the host to offer it to the server,
// which accepts one per epoch; [Driver.CommitResult] completes it.
func (d *Driver) commit(ids []uint64, adds [][]byte, removes []uint32, rekey bool) {
	if d.g.HasPendingCommit() {
		d.g.ClearPendingCommit()
	}
	epoch := d.g.Epoch()
	c, err := d.g.CreateCommit(adds, removes)
	if err != nil {
		d.warn("creating a Commit failed", "epoch", epoch, "err", err)
		if rekey && d.cfg.Rekey > 0 {
			d.rekeyAt = d.now.Add(d.cfg.Rekey)
		}
		return
	}
	d.inflight = &inflight{epoch: epoch, rekey: rekey}
	d.emit(SendCommit{Epoch: epoch, Proposals: ids, Data: c.Message, Welcome: c.Welcome})
}

// mls handles an MLS message the server relayed as "commit" or "chat". The
// label is only the server's claim: the message is dispatched on what the
// group says it is, and keys change only when a Commit moved the epoch.
func (d *Driver) mls(m ServerMessage) {
	if !d.active() {
		return
	}
	msg, err := d.g.Process(m.Data)
	if err != nil && d.inflight != nil && errors.Is(err, keys.ErrWrongEpoch) && !m.retried {
		// Perhaps of the epoch a held Commit starts (ours lost, or it is
		// another's that won): read it again after the answer.
		m.retried = true
		d.hold(m)
		return
	}
	if err != nil {
		d.stats.Rejected++
		d.log.Info("tresor: rejected MLS message", "label", m.Type, "epoch", d.g.Epoch(), "err", err)
		return
	}
	d.stats.Processed++
	if (msg.Kind == keys.KindCommit) != (m.Type == TypeCommit) {
		d.stats.Mislabelled++
		d.log.Warn("tresor: the server mislabelled an MLS message", "label", m.Type, "kind", int(msg.Kind))
	}
	switch msg.Kind {
	case keys.KindApplication:
		d.application(msg)
	case keys.KindProposal:
		// RFC 9420 §12.4: a member that received a proposal commits
		// before it sends application data; the Commit covers it.
		if d.inflight == nil {
			d.commit(nil, nil, nil, false)
		}
	case keys.KindCommit:
		if !d.g.Active() {
			d.left()
			return
		}
		d.newEpoch(msg.Added, msg.Removed)
	}
}

// application handles a member's application message: chat or a consent,
// attributed to the leaf that signed it.
func (d *Driver) application(msg *keys.Message) {
	a, err := decodeApp(msg.Data)
	if err != nil {
		d.stats.Rejected++
		d.log.Info("tresor: malformed application message", "sender", msg.Sender.Leaf, "err", err)
		return
	}
	switch a.Type {
	case appChat:
		d.emit(ChatMessage{From: memberOf(msg.Sender), Epoch: msg.Epoch, Text: a.Text})
	case appConsent:
		d.consentReceived(msg.Sender, a)
	}
}

// newEpoch installs the keys of the group's current epoch and reports the
// roster. It runs only when the epoch really changed: on founding or
// joining the group, and after a Commit was merged or processed.
func (d *Driver) newEpoch(added, removed []keys.Member) {
	g := d.g
	epoch := g.Epoch()
	members := g.Members()
	ek, err := g.SFrameKeys()
	if err != nil {
		d.warn("deriving the epoch's media keys failed", "epoch", epoch, "err", err)
	} else {
		identity := make(map[uint32]string, len(members))
		for _, mem := range members {
			identity[mem.Leaf] = mem.Identity
		}
		ik := &InstallKeys{Epoch: epoch}
		for _, k := range ek.Members {
			sk := SFrameKey{Identity: identity[k.Leaf], Leaf: k.Leaf, KID: k.KID, BaseKey: bytes.Clone(k.BaseKey)}
			ik.Members = append(ik.Members, sk)
			if k.Leaf == ek.Own.Leaf {
				ik.Own = SFrameKey{Identity: sk.Identity, Leaf: sk.Leaf, KID: sk.KID, BaseKey: bytes.Clone(k.BaseKey)}
			}
		}
		ek.Erase()
		d.emit(ik)
	}
	code, err := g.SecurityCode()
	if err != nil {
		d.warn("the security code failed", "epoch", epoch, "err", err)
	}
	if d.roster != nil {
		d.expiries = append(d.expiries, expiry{before: epoch, at: d.now.Add(d.cfg.Grace)})
	}
	self := g.Self().Leaf
	for _, old := range d.roster {
		if !slices.ContainsFunc(members, func(n keys.Member) bool { return sameLeaf(n, old) }) {
			d.emit(ParticipantLeft{Member: memberOf(old)})
		}
	}
	list := make([]Member, 0, len(members))
	for _, mem := range members {
		if mem.Leaf != self && !slices.ContainsFunc(d.roster, func(o keys.Member) bool { return sameLeaf(o, mem) }) {
			d.emit(ParticipantJoined{Member: memberOf(mem)})
		}
		list = append(list, memberOf(mem))
	}
	d.roster = members
	d.emit(EpochChanged{Epoch: epoch, SecurityCode: code, Members: list})
	if d.cfg.Rekey > 0 {
		// Stagger members by leaf so that they do not all commit at once.
		d.rekeyAt = d.now.Add(d.cfg.Rekey + d.cfg.Rekey*time.Duration(self%16)/32)
	}
	d.checkSync()
	d.recordingMembersChanged()
	d.flushQueued()
}

func sameLeaf(a, b keys.Member) bool {
	return a.Leaf == b.Leaf && bytes.Equal(a.SignatureKey, b.SignatureKey)
}

// left: a Commit removed this client. It holds no key of the new epoch, and
// erases the old ones at once, not after the grace window.
func (d *Driver) left() {
	d.emit(EraseKeys{})
	d.emit(GroupLeft{})
	d.roster = nil
	d.rekeyAt, d.expiries = time.Time{}, nil
	d.dropQueued()
}

// sendApp seals an application message, or queues it behind the Commit the
// group owes (RFC 9420 §12.4) or has in flight.
func (d *Driver) sendApp(data []byte) error {
	if d.inflight == nil {
		sealed, err := d.g.Seal(data)
		switch {
		case err == nil:
			d.emit(SendChat{Epoch: d.g.Epoch(), Data: sealed})
			return nil
		case !errors.Is(err, keys.ErrPendingProposals):
			return err
		}
		d.commit(nil, nil, nil, false)
	}
	if len(d.queued) >= maxQueued {
		return errors.New("core: too many messages waiting for a Commit")
	}
	d.queued = append(d.queued, data)
	return nil
}

// flushQueued seals the queued application messages once the group can
// send again.
func (d *Driver) flushQueued() {
	for len(d.queued) > 0 && d.inflight == nil && d.active() {
		data := d.queued[0]
		sealed, err := d.g.Seal(data)
		if errors.Is(err, keys.ErrPendingProposals) {
			d.commit(nil, nil, nil, false)
			return
		}
		d.queued = d.queued[1:]
		clear(data)
		if err != nil {
			d.warn("sealing a message failed", "err", err)
			continue
		}
		d.emit(SendChat{Epoch: d.g.Epoch(), Data: sealed})
	}
}

func (d *Driver) dropQueued() {
	if len(d.queued) > 0 {
		d.warn("messages waiting for a Commit were dropped", "count", len(d.queued))
	}
	for _, q := range d.queued {
		clear(q)
	}
	d.queued = nil
}
