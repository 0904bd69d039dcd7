package tresor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/signaling"
)

// Media recovery by ICE restart (RFC 8445 §9). When the network drops or
// changes, a peer connection's ICE goes "disconnected" (nothing received
// for pion's disconnected timeout) and then "failed", after which pion
// never sends on it again. Restarting ICE gives the existing connection new
// credentials and new local candidates (new sockets, on whatever network
// the device now has) and runs fresh connectivity checks; DTLS-SRTP, the
// transceivers, the tracks, the SFU's forwarding state and the MLS group
// all carry on, so media comes back without a new join:
//
//	publish    the client offers: a new offer with IceRestart
//	subscribe  the SFU offers: the client sends a "restart" media signal
//	           and answers the SFU's ICE-restart offer
//
// One goroutine per connection watches its ICE state:
//
//	connected ──► disconnected ──(restartDelay, not back)──┐
//	     ▲              failed ──────────────────────────────┤
//	     │                                                   ▼
//	     └──(ICE connected)── attempt k: restart, wait restartWindow(k) ◄┐
//	                                        │ not connected              │
//	                                        └────────────────────────────┘
//
// An attempt's window starts once the restart's remote description is
// applied (the SFU's answer on publish, its offer on subscribe), so that
// slow signaling never cuts an attempt short: a new restart before the
// last one's description arrived would only restart the checks again.
//
// Attempts repeat while the connection stays down and stop when the
// meeting closes. Each attempt's connectivity checks run for about 1.6 s
// (pion pings each candidate pair every 200 ms, eight times), so windows of
// at most 2 s leave little time with no check under way: when the network
// comes back the running attempt connects within a check interval or two,
// or the next one starts soon. After the subscribe connection recovers,
// every remote video track asks for a key frame (PLI), so that pictures
// return at once; the SFU asks the publishers too. Local tracks keep
// sending throughout: frames written while the connection is down are
// lost, as on any lossy network.

// restartDelay is how long a "disconnected" connection may come back by
// itself (consent checks get through again after a short loss) before ICE
// is restarted. A restart discards the old candidate pairs, so restarting
// at once would turn every brief loss into a renegotiation.
const restartDelay = 1500 * time.Millisecond

// restartWindow is how long attempt k (from 0) waits for ICE to connect
// before the next restart: 1 s, 1.5 s, then 2 s while the connection stays
// down (see the package comment above for why not longer).
func restartWindow(k int) time.Duration {
	return min(time.Second+time.Duration(k)*500*time.Millisecond, 2*time.Second)
}

// iceWatch follows one peer connection's ICE state.
type iceWatch struct {
	dir     signaling.Direction
	pc      *webrtc.PeerConnection
	changed chan struct{} // the ICE state or session changed (level-triggered: read them)
	force   chan struct{} // restart now (restartICE)

	mu       sync.Mutex
	ufrag    string // of the remote description applied last
	sessions uint64 // remote descriptions with a new ufrag applied (ICE sessions begun)
}

// described records that remote description sdp was applied to w's
// connection; a new ufrag means an ICE restart took effect.
func (w *iceWatch) described(sdp string) {
	u := trickle.DescriptionUfrag(sdp)
	w.mu.Lock()
	fresh := u != w.ufrag
	if fresh {
		w.ufrag = u
		w.sessions++
	}
	w.mu.Unlock()
	if fresh {
		kick(w.changed)
	}
}

func (w *iceWatch) session() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions
}

func newICEWatch(dir signaling.Direction, pc *webrtc.PeerConnection) *iceWatch {
	w := &iceWatch{dir: dir, pc: pc, changed: make(chan struct{}, 1), force: make(chan struct{}, 1)}
	// pion calls this on its ICE goroutine, synchronously: only kick.
	pc.OnICEConnectionStateChange(func(webrtc.ICEConnectionState) { kick(w.changed) })
	return w
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func iceUp(s webrtc.ICEConnectionState) bool {
	return s == webrtc.ICEConnectionStateConnected || s == webrtc.ICEConnectionStateCompleted
}

func iceDown(s webrtc.ICEConnectionState) bool {
	return s == webrtc.ICEConnectionStateDisconnected || s == webrtc.ICEConnectionStateFailed
}

// restartICE restarts ICE on the connection dir now, whatever its state
// (tests use it; a network-change notification could too).
func (c *mediaConn) restartICE(dir signaling.Direction) {
	w := c.subWatch
	if dir == signaling.DirectionPublish {
		w = c.pubWatch
	}
	kick(w.force)
}

// watch brings w's connection back by ICE restart whenever it goes down,
// until the meeting closes.
func (c *mediaConn) watch(w *iceWatch) {
	defer c.wg.Done()
	for {
		forced := false
		for !forced && !iceDown(w.pc.ICEConnectionState()) {
			select {
			case <-w.changed:
			case <-w.force:
				forced = true
			case <-c.ctx.Done():
				return
			}
		}
		down := time.Now()
		if !forced && w.pc.ICEConnectionState() == webrtc.ICEConnectionStateDisconnected {
			up, ok := c.waitUp(w, restartDelay, true)
			if !ok {
				return
			}
			if up {
				continue
			}
		}
		for k := 0; ; k++ {
			lvl := slog.LevelDebug
			if k == 0 {
				lvl = slog.LevelInfo
			}
			c.m.log.Log(c.ctx, lvl, "tresor: restarting ICE", "target", w.dir, "attempt", k+1, "state", w.pc.ICEConnectionState().String())
			up, ok := c.restart(w)
			if !ok {
				return
			}
			if !up {
				up, ok = c.waitUp(w, restartWindow(k), false)
				if !ok {
					return
				}
			}
			if up {
				break
			}
		}
		c.m.log.Info("tresor: media connection recovered", "target", w.dir, "down", time.Since(down).Round(time.Millisecond))
		if w.dir == signaling.DirectionSubscribe {
			c.requestKeyFrames()
		}
	}
}

// waitUp waits up to d for w's connection to be connected. It returns
// early, not up, on a forced restart, and with failedEnds when ICE fails.
// ok is false when the meeting closed.
func (c *mediaConn) waitUp(w *iceWatch, d time.Duration, failedEnds bool) (up, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		st := w.pc.ICEConnectionState()
		if iceUp(st) {
			return true, true
		}
		if failedEnds && st == webrtc.ICEConnectionStateFailed {
			return false, true
		}
		select {
		case <-w.changed:
		case <-w.force:
			return false, true
		case <-t.C:
			return false, true
		case <-c.ctx.Done():
			return false, false
		}
	}
}

// restart makes one ICE-restart attempt on w's connection and waits (at
// most requestTimeout) until its remote description is applied: on the
// publish connection a new offer and the SFU's answer, on the subscribe
// connection a restart request and the SFU's offer (which inLoop
// answers). It returns early, with up, if the connection is connected
// meanwhile; ok is false when the meeting closed.
func (c *mediaConn) restart(w *iceWatch) (up, ok bool) {
	ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
	defer cancel()
	if w.dir == signaling.DirectionPublish {
		if err := c.negotiate(ctx, true); err != nil && c.ctx.Err() == nil {
			c.m.log.Warn("tresor: ICE restart", "target", w.dir, "err", err)
		}
		return false, c.ctx.Err() == nil
	}
	gen := w.session()
	c.send(signaling.MediaSignal{Kind: signaling.SignalRestart, Direction: signaling.DirectionSubscribe})
	for w.session() == gen {
		if iceUp(w.pc.ICEConnectionState()) {
			return true, true
		}
		select {
		case <-w.changed:
		case <-w.force:
			return false, true
		case <-ctx.Done():
			if c.ctx.Err() != nil {
				return false, false
			}
			c.m.log.Warn("tresor: ICE restart: no offer from the SFU", "target", w.dir)
			return false, true
		}
	}
	return false, true
}

// requestKeyFrames asks for a key frame on every live remote video track
// (PLI, RFC 4585 §6.3.1): after an outage the next delta frames cannot be
// decoded.
func (c *mediaConn) requestKeyFrames() {
	c.tmu.Lock()
	tracks := append([]*RemoteTrack(nil), c.tracks...)
	c.tmu.Unlock()
	for _, t := range tracks {
		select {
		case <-t.done:
			continue
		default:
		}
		if t.codec != e2ee.CodecVP8 {
			continue
		}
		if err := t.RequestKeyFrame(); err != nil {
			c.m.log.Debug("tresor: key frame request after recovery", "participant", t.participant, "err", err)
		}
	}
}
