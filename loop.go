package tresor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/signaling"
)

// The Meeting's run loop: the goroutine that owns the driver, feeds it what
// the network and the clock bring, and carries out what it returns.

// run is the goroutine that owns the driver.
func (m *Meeting) run() {
	defer m.runWG.Done()
	defer close(m.done)
	speakers := time.NewTicker(200 * time.Millisecond)
	defer speakers.Stop()
	m.timer = time.NewTimer(time.Hour)
	m.timer.Stop()
	defer m.timer.Stop()
	defer m.teardown()
	sigEvents := m.sig.Events()
	for {
		select {
		case ev, ok := <-sigEvents:
			if !ok {
				m.closing()
				return
			}
			m.handle(ev)
		case f := <-m.cmds:
			f()
		case a := <-m.results:
			accepted, reason := a.err == nil, ""
			var se *signaling.Error
			if errors.As(a.err, &se) {
				reason = string(se.Code)
			} else if a.err != nil {
				reason = "unanswered"
			}
			m.apply(m.d.CommitResult(time.Now(), accepted, reason), nil)
			if a.wait != nil {
				a.wait <- a.err
			}
		case now := <-m.timer.C:
			m.apply(m.d.Tick(now), nil)
		case now := <-speakers.C:
			if who, ok := m.speakers.update(now); ok {
				m.events.Push(&ActiveSpeaker{Identity: who})
			}
		case <-m.ctx.Done():
			return
		}
		m.schedule()
	}
}

// schedule sets the timer to the driver's next deadline, and keeps a copy
// of its counters for Stats.
func (m *Meeting) schedule() {
	st := m.d.Stats()
	m.mu.Lock()
	m.group = st
	m.mu.Unlock()
	m.timer.Stop()
	if t := m.d.Deadline(); !t.IsZero() {
		m.timer.Reset(max(time.Until(t), 0))
	}
}

// closing reports the end of the connection.
func (m *Meeting) closing() {
	err := m.sig.Err()
	if m.endReason != nil {
		err = fmt.Errorf("%w (%w)", m.endReason, err)
	}
	if m.ctx.Err() != nil || m.leaving.Load() {
		err = nil
	}
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
	m.events.Push(&Closed{Err: err})
	m.events.Close()
}

// teardown erases the group and every key; the run goroutine calls it last.
func (m *Meeting) teardown() {
	m.apply(m.d.Close(), nil)
	m.cancel()         // the outbox stops
	go m.media.close() // the media goroutines end on their own; Close waits
}

func (m *Meeting) handle(ev signaling.Event) {
	m.log.Debug("tresor: event", "type", fmt.Sprintf("%T", ev))
	now := time.Now()
	switch ev := ev.(type) {
	case signaling.Joined:
		m.mu.Lock()
		m.self = ev.Self
		m.mu.Unlock()
		if !m.admitted {
			m.admitted = true
			m.events.Push(&Admitted{})
			outs, err := m.d.Start(now)
			if err != nil {
				m.fail(fmt.Errorf("tresor: %w", err))
				return
			}
			m.apply(outs, nil)
			m.media.start()
		}
		st := roomState(ev.State)
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeJoined, State: &st}), nil)
	case signaling.Waiting:
		rec := recording(ev.Recording)
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeWaiting, Reason: ev.Reason, Recording: &rec}), nil)
	case signaling.StateChanged:
		st := roomState(ev.State)
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeState, State: &st}), nil)
	case signaling.CreateGroupRequested:
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeGroupCreate}), nil)
	case signaling.CommitRequested:
		m.apply(m.d.Receive(now, commitRequest(ev)), nil)
	case signaling.CommitReceived:
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeCommit, Epoch: &ev.Epoch, Participant: ev.From, Data: ev.Data}), nil)
	case signaling.WelcomeReceived:
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeWelcome, Epoch: &ev.Epoch, Data: ev.Data}), nil)
	case signaling.ChatReceived:
		m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeChat, Epoch: &ev.Epoch, Participant: ev.From, Data: ev.Data}), nil)
	case signaling.MediaReceived:
		m.media.signal(ev.Signal)
	case signaling.MuteRequested:
		m.events.Push(&MuteRequested{By: ev.By, Source: ev.Source})
	case signaling.TrackStopped:
		m.events.Push(&TrackStopped{By: ev.By, Source: ev.Source})
	case signaling.Reconnecting:
		m.events.Push(&Reconnecting{Attempt: ev.Attempt, Err: ev.Err})
	case signaling.Resumed:
		m.events.Push(&Reconnected{})
	case signaling.ResumeFailed:
		m.log.Warn("tresor: the session could not be resumed", "err", ev.Err)
	case signaling.ServerError:
		if ev.Err != nil {
			m.log.Info("tresor: server error", "code", ev.Err.Code)
			m.apply(m.d.Receive(now, core.ServerMessage{Type: core.TypeError, Code: string(ev.Err.Code)}), nil)
		}
	case signaling.Removed:
		m.endReason = fmt.Errorf("%w by %s", ErrRemoved, ev.By)
	case signaling.Denied:
		m.endReason = ErrDenied
	case signaling.Ended:
		m.endReason = fmt.Errorf("%w (by %s)", ErrEnded, ev.By)
	}
}

// input runs f on the run goroutine, for answers that arrive elsewhere
// (the outbox); it gives up when the meeting closes.
func (m *Meeting) input(f func()) {
	select {
	case m.cmds <- f:
	case <-m.ctx.Done():
	}
}

// fail ends the meeting after an error the client cannot recover from.
func (m *Meeting) fail(err error) {
	m.log.Error("tresor: meeting failed", "err", err)
	m.sig.Close()
}

// apply carries out the driver's outputs in order: requests go to the
// outbox, keys to the key ring, events to the application. answer, if not
// nil, receives the result of the batch's first request (for a Commit: once
// the driver has handled the answer); apply reports whether there was one.
func (m *Meeting) apply(outs []core.Output, answer chan<- error) bool {
	answered := false
	// first returns answer for the batch's first request only.
	first := func() chan<- error {
		if answered {
			return nil
		}
		answered = true
		return answer
	}
	for _, o := range outs {
		switch o := o.(type) {
		case core.SendKeyPackage:
			m.outbox.send(func(ctx context.Context) error { return m.sig.UploadKeyPackage(ctx, o.Data) }, func(err error) {
				if err != nil {
					m.fail(fmt.Errorf("tresor: upload key package: %w", err))
				}
			})
		case core.SendCommit:
			wait := first()
			m.outbox.send(func(ctx context.Context) error {
				_, err := m.sig.SendCommit(ctx, signaling.Commit{Epoch: o.Epoch, Proposals: o.Proposals, Data: o.Data, Welcome: o.Welcome, External: o.External})
				return err
			}, func(err error) {
				select {
				case m.results <- commitAnswer{err: err, wait: wait}:
				case <-m.ctx.Done():
				}
			})
		case core.SendChat:
			m.outbox.send(func(ctx context.Context) error { return m.sig.SendChat(ctx, o.Epoch, o.Data) }, reply(first()))
		case core.SendConsent:
			m.outbox.send(func(ctx context.Context) error { return m.sig.Consent(ctx, o.Recording, o.Granted) }, reply(first()))
		case core.SendGroupInfo:
			m.outbox.send(func(ctx context.Context) error { return m.sig.PublishGroupInfo(ctx, o.Epoch, o.Data) }, func(err error) {
				if err != nil && m.ctx.Err() == nil {
					m.log.Info("tresor: publishing the GroupInfo", "epoch", o.Epoch, "err", err)
				}
			})
		case core.SendGetGroupInfo:
			var epoch uint64
			var gi []byte
			m.outbox.send(func(ctx context.Context) (err error) {
				epoch, gi, err = m.sig.GroupInfo(ctx)
				return err
			}, func(err error) {
				reason := ""
				if err != nil {
					reason = "unanswered"
					var se *signaling.Error
					if errors.As(err, &se) {
						reason = string(se.Code)
					}
				}
				m.input(func() { m.apply(m.d.GroupInfoResult(time.Now(), epoch, gi, reason), nil) })
			})
		case *core.InstallKeys:
			m.installKeys(o)
		case core.ExpireKeys:
			m.keys.Expire(o.Before)
		case core.EraseKeys:
			m.keys.EraseAll()
			m.mu.Lock()
			m.member = false
			m.mu.Unlock()
		case core.EpochChanged:
			members := toMembers(o.Members)
			m.mu.Lock()
			m.epoch, m.code, m.members, m.member = o.Epoch, o.SecurityCode, members, true
			m.mu.Unlock()
			m.events.Push(&EpochChanged{Epoch: o.Epoch, SecurityCode: o.SecurityCode, Members: slices.Clone(members)})
		default:
			if ev := event(o); ev != nil {
				m.events.Push(ev)
			}
		}
	}
	return answered
}

func reply(answer chan<- error) func(error) {
	return func(err error) {
		if answer != nil {
			answer <- err
		}
	}
}

func (m *Meeting) installKeys(k *core.InstallKeys) {
	if m.opts.keyLog != nil {
		for _, mk := range k.Members {
			m.opts.keyLog(k.Epoch, core.SFrameKey{Identity: mk.Identity, Leaf: mk.Leaf, KID: mk.KID, BaseKey: slices.Clone(mk.BaseKey)})
		}
	}
	if m.opts.epochLog != nil {
		m.opts.epochLog(k.Epoch, m.d.TestingOnlyEpochSecrets())
	}
	if err := m.keys.Install(k); err != nil {
		m.log.Error("tresor: installing epoch keys", "epoch", k.Epoch, "err", err)
	}
}

// reportKeys is called by a remote track whose frames have carried unknown
// keys for longer than the grace window.
func (m *Meeting) reportKeys(identity string) {
	m.mu.Lock()
	epoch := m.epoch
	m.mu.Unlock()
	m.log.Warn("tresor: frames under keys this client does not hold", "participant", identity, "epoch", epoch)
	m.events.Push(&Mismatch{Kind: MismatchKeys, Participants: []string{identity}, Epoch: epoch})
}
