package sfu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/sfu/internal/bwe"
)

// ErrUnknownTrack is returned when a track ID names no track of the
// participant.
var ErrUnknownTrack = errors.New("sfu: unknown track")

// Participant is one member of a room, with a publish and a subscribe peer
// connection. Its methods are called by the signaling layer.
type Participant struct {
	room *Room
	id   string
	sig  Signaler
	ctx  context.Context
	stop context.CancelFunc

	pub atomic.Pointer[webrtc.PeerConnection] // created at the first publish offer
	sub *webrtc.PeerConnection
	bwe *bwe.Estimator // nil when bandwidth estimation is off

	twccSeq  atomic.Uint32 // transport-wide sequence on the subscribe connection
	subReady atomic.Bool   // subscribe connection connected (DTLS-SRTP keys ready)

	// Trickled candidates that arrive before their connection's remote
	// description of their ICE session (the first one, or an ICE
	// restart's) wait here. The gates keep their own state, so adding a
	// candidate never asks pion anything under mu (see mu).
	pubCands, subCands trickle.Gate

	// mu ranks below pion's locks: pion calls downTrack.Bind, which takes
	// mu, while it holds the RTPSender's lock, and its negotiation-needed
	// check holds the connection's lock while it waits for the sender's.
	// So never call a pion method that may take the connection's lock
	// (RemoteDescription, AddICECandidate, GetTransceivers, ...) while
	// holding mu: AddICECandidate once did, and deadlocked.
	mu           sync.Mutex
	canPublish   Sources
	noAutoSub    bool
	sources      map[string]Source // declared source per track ID
	muted        map[string]bool
	published    map[string]*publishedTrack
	downs        map[*publishedTrack]*downTrack
	wantLayer    Layer
	negDirty     bool
	offered      bool                     // the first subscribe offer was made
	subRestart   bool                     // make the next subscribe offer an ICE restart
	subRestarted bool                     // an ICE-restart offer is out; the connection has not come back
	unsubscribed map[*publishedTrack]bool // tracks the participant asked not to receive
	closed       bool
	negKick      chan struct{}
	negLoopDone  chan struct{}
}

func newParticipant(r *Room, id string, sig Signaler, o joinOptions) (*Participant, error) {
	s := r.sfu
	ctx, stop := context.WithCancel(context.Background())
	p := &Participant{room: r, id: id, sig: sig, ctx: ctx, stop: stop, canPublish: o.canPublish, noAutoSub: o.noAutoSub,
		sources: map[string]Source{}, muted: map[string]bool{}, published: map[string]*publishedTrack{},
		downs: map[*publishedTrack]*downTrack{}, wantLayer: LayerAuto,
		negKick: make(chan struct{}, 1), negLoopDone: make(chan struct{})}

	if !s.cfg.DisableBandwidthEstimation {
		p.bwe = bwe.New(bwe.Config{Initial: s.cfg.InitialBitrate})
	}
	subAPI, err := p.subscribeAPI()
	if err != nil {
		stop()
		return nil, err
	}
	p.sub, err = subAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		stop()
		return nil, fmt.Errorf("sfu: subscribe connection: %w", err)
	}
	p.sub.OnICECandidate(p.onCandidate(DirectionSubscribe))
	p.sub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			// Packets written before DTLS-SRTP is up are dropped by pion, so
			// every down track restarts at a fresh key frame now. After an
			// outage (the connection came back, by itself or by an ICE
			// restart) the subscriber has lost frames: it gets key frames
			// too, rather than waiting for its own requests.
			first := !p.subReady.Swap(true)
			p.mu.Lock()
			p.subRestarted = false
			p.mu.Unlock()
			for _, d := range p.downTracks() {
				if first {
					d.restart()
				}
				d.t.requestKeyFrame(d.wantedLayer())
			}
			p.kickNegotiation() // changes held back while connecting
		case webrtc.PeerConnectionStateFailed:
			p.failed(DirectionSubscribe, p.sub)
		}
	})
	go p.negotiateLoop()
	if p.bwe != nil {
		go p.layerLoop()
	}
	return p, nil
}

// subscribeAPI builds the pion API of this participant's subscribe
// connection: sender reports (RFC 3550 §6.4.1) only. There is no NACK
// responder (NACKs are answered from the publisher-side packet cache) and no
// TWCC interceptor: down tracks stamp transport-wide sequence numbers
// themselves and feed the connection's bandwidth estimator (package bwe),
// which allocates nothing per packet.
func (p *Participant) subscribeAPI() (*webrtc.API, error) {
	s := p.room.sfu
	me, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(pionLogs{l: s.cfg.Logger}))
	if err != nil {
		return nil, fmt.Errorf("sfu: sender reports: %w", err)
	}
	ir.Add(sr)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(s.setting)), nil
}

// publishPC returns the publish connection, creating it on first use: a
// participant who only watches never pays for it.
func (p *Participant) publishPC() (*webrtc.PeerConnection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc := p.pub.Load(); pc != nil {
		return pc, nil
	}
	if p.closed {
		return nil, ErrClosed
	}
	s := p.room.sfu
	pc, err := s.pubAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: publish connection: %w", err)
	}
	pc.OnICECandidate(p.onCandidate(DirectionPublish))
	pc.OnTrack(p.onTrack)
	var wasUp atomic.Bool // pion calls the handler on a goroutine per change
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			// Back after an outage: the subscribers lost the frames sent
			// meanwhile, so their next pictures need key frames.
			if wasUp.Swap(true) {
				p.mu.Lock()
				ts := p.publishedLocked()
				p.mu.Unlock()
				for _, t := range ts {
					t.requestKeyFrame(LayerAuto)
				}
			}
		case webrtc.PeerConnectionStateFailed:
			p.failed(DirectionPublish, pc)
		}
	})
	p.pub.Store(pc)
	return pc, nil
}

// ID is the participant's identifier.
func (p *Participant) ID() string { return p.id }

// failed handles a connection whose ICE failed (no traffic for pion's
// disconnected plus failed timeouts). ICE restart (RFC 8445 §9) can still
// bring it back, with the participant's publications and subscriptions
// intact: the participant offers one on the publish connection, or asks
// for one on the subscribe connection (RestartSubscribeICE). The
// participant is closed only if the connection is not connected again
// within Config.ReconnectTimeout.
func (p *Participant) failed(dir Direction, pc *webrtc.PeerConnection) {
	s := p.room.sfu
	s.cfg.Logger.Warn("sfu: connection failed; waiting for an ICE restart", "room", p.room.id, "participant", p.id,
		"direction", dir, "timeout", s.cfg.ReconnectTimeout)
	time.AfterFunc(s.cfg.ReconnectTimeout, func() {
		switch pc.ICEConnectionState() {
		case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted, webrtc.ICEConnectionStateClosed:
			return
		}
		if p.ctx.Err() == nil {
			s.cfg.Logger.Warn("sfu: connection not restarted in time", "room", p.room.id, "participant", p.id, "direction", dir)
			_ = p.Close()
		}
	})
}

func (p *Participant) onCandidate(dir Direction) func(*webrtc.ICECandidate) {
	return func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		if err := p.sig.SendCandidate(p.ctx, dir, c.ToJSON()); err != nil {
			p.room.sfu.cfg.Logger.Debug("sfu: send candidate", "participant", p.id, "direction", dir, "err", err)
		}
	}
}

// HandlePublishOffer applies the participant's offer for its publish
// connection and returns the SFU's answer. The SFU's ICE candidates follow
// through Signaler.SendCandidate.
func (p *Participant) HandlePublishOffer(ctx context.Context, offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if err := ctx.Err(); err != nil {
		return webrtc.SessionDescription{}, err
	}
	if offer.Type != webrtc.SDPTypeOffer {
		return webrtc.SessionDescription{}, fmt.Errorf("sfu: publish: want offer, got %s", offer.Type)
	}
	pub, err := p.publishPC()
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	// An offer with new ICE credentials is an ICE restart (RFC 8445 §9):
	// pion restarts the connection's ICE agent and keeps DTLS-SRTP, the
	// transceivers and so the published tracks and their subscribers.
	if err := pub.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("sfu: publish: set offer: %w", err)
	}
	p.flushCandidates(DirectionPublish, pub, offer.SDP)
	answer, err := pub.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("sfu: publish: create answer: %w", err)
	}
	if err := pub.SetLocalDescription(answer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("sfu: publish: set answer: %w", err)
	}
	return *pub.LocalDescription(), nil
}

// HandleSubscribeAnswer applies the participant's answer to the SFU's last
// offer on the subscribe connection.
func (p *Participant) HandleSubscribeAnswer(ctx context.Context, answer webrtc.SessionDescription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if answer.Type != webrtc.SDPTypeAnswer {
		return fmt.Errorf("sfu: subscribe: want answer, got %s", answer.Type)
	}
	if err := p.sub.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("sfu: subscribe: set answer: %w", err)
	}
	p.flushCandidates(DirectionSubscribe, p.sub, answer.SDP)
	p.kickNegotiation()
	return nil
}

// AddICECandidate adds a trickled candidate of the participant for the given
// connection. Candidates that arrive before the remote description of
// their ICE session (its first, or an ICE restart's: RFC 8838 §4.1 names
// the session by the candidate's ufrag) are queued until it is applied.
func (p *Participant) AddICECandidate(dir Direction, c webrtc.ICECandidateInit) error {
	var pc *webrtc.PeerConnection
	switch dir {
	case DirectionPublish:
		var err error
		if pc, err = p.publishPC(); err != nil {
			return err
		}
	case DirectionSubscribe:
		pc = p.sub
	default:
		return fmt.Errorf("sfu: unknown connection dir %d", dir)
	}
	if p.candidates(dir).Hold(c) {
		return nil
	}
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("sfu: %s: add candidate: %w", dir, err)
	}
	return nil
}

// candidates is the gate of the connection dir (DirectionPublish or
// DirectionSubscribe).
func (p *Participant) candidates(dir Direction) *trickle.Gate {
	if dir == DirectionPublish {
		return &p.pubCands
	}
	return &p.subCands
}

// flushCandidates adds the candidates held for the connection dir that
// belong to remote description sdp; it is called once sdp is set.
func (p *Participant) flushCandidates(dir Direction, pc *webrtc.PeerConnection, sdp string) {
	for _, c := range p.candidates(dir).Open(sdp) {
		if err := pc.AddICECandidate(c); err != nil {
			p.room.sfu.cfg.Logger.Debug("sfu: queued candidate", "participant", p.id, "err", err)
		}
	}
}

// DeclareSource records which source the participant's track trackID (the
// MediaStreamTrack ID in the a=msid line, RFC 8830 §2) carries. Undeclared
// audio counts as SourceMicrophone and undeclared video as SourceCamera. The
// declaration may come before or after the track is published; it takes
// effect at once.
//
// Trust limit: the SFU sees only encrypted media, so it cannot check the
// claim. A client forbidden to share its screen can still send screen
// content labelled as camera; source permissions stop honest clients and
// keep the UI truthful, they are not a security boundary.
func (p *Participant) DeclareSource(trackID string, src Source) {
	p.mu.Lock()
	p.sources[trackID] = src
	t := p.published[trackID]
	p.mu.Unlock()
	if t != nil {
		t.setSource(src)
		t.updateForwarding()
	}
}

// SetPublishPermission allows or forbids publishing from src. A forbidden
// track stays connected but is not forwarded to anyone.
func (p *Participant) SetPublishPermission(src Source, allowed bool) {
	p.mu.Lock()
	if allowed {
		p.canPublish |= 1 << src
	} else {
		p.canPublish &^= 1 << src
	}
	ts := p.publishedLocked()
	p.mu.Unlock()
	for _, t := range ts {
		t.updateForwarding()
	}
}

func (p *Participant) allowed(src Source) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.canPublish.Has(src)
}

// SetMuted mutes or unmutes the participant's track trackID: a muted track
// is not forwarded.
func (p *Participant) SetMuted(trackID string, muted bool) error {
	p.mu.Lock()
	p.muted[trackID] = muted
	t := p.published[trackID]
	p.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %q", ErrUnknownTrack, trackID)
	}
	t.updateForwarding()
	return nil
}

func (p *Participant) isMuted(trackID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.muted[trackID]
}

// StopTrack unpublishes the participant's track trackID: subscribers are
// renegotiated without it.
func (p *Participant) StopTrack(trackID string) error {
	p.mu.Lock()
	t := p.published[trackID]
	delete(p.published, trackID)
	p.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %q", ErrUnknownTrack, trackID)
	}
	p.room.unpublish(t)
	return nil
}

// RequestLayer asks for simulcast layer l (or LayerAuto) on every video track
// the participant receives. With LayerAuto, or when bandwidth estimation says
// less fits, the estimate decides.
func (p *Participant) RequestLayer(l Layer) {
	p.mu.Lock()
	p.wantLayer = l
	p.mu.Unlock()
	for _, d := range p.downTracks() {
		d.selectLayer(l, p.targetBitrate())
	}
}

// RequestTrackLayer asks for simulcast layer l of publisher pubID's video
// track trackID only (LayerAuto lets the estimate decide), overriding
// RequestLayer for that track: e.g. the high layer for the active speaker's
// tile and the low one for thumbnails. The bandwidth estimate still caps
// it.
func (p *Participant) RequestTrackLayer(pubID, trackID string, l Layer) error {
	if l < LayerAuto || l >= maxLayers {
		return fmt.Errorf("sfu: invalid layer %d", l)
	}
	p.mu.Lock()
	var d *downTrack
	for t, x := range p.downs {
		if t.owner.id == pubID && t.id == trackID {
			d = x
		}
	}
	p.mu.Unlock()
	if d == nil {
		return fmt.Errorf("%w: %s/%s", ErrUnknownTrack, pubID, trackID)
	}
	d.override.Store(int32(l))
	d.selectLayer(l, p.targetBitrate())
	return nil
}

func (p *Participant) downTracks() []*downTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	return downs
}

func (p *Participant) targetBitrate() int {
	if p.bwe != nil {
		return p.bwe.Estimate()
	}
	return 0
}

// BandwidthEstimate is the current send-side estimate towards the
// participant in bits/s, or 0 when estimation is off or not started.
func (p *Participant) BandwidthEstimate() int { return p.targetBitrate() }

func (p *Participant) publishedLocked() []*publishedTrack {
	ts := make([]*publishedTrack, 0, len(p.published))
	for _, t := range p.published {
		ts = append(ts, t)
	}
	return ts
}

// discard closes a participant that never joined its room.
func (p *Participant) discard() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.stop()
	_ = p.sub.Close()
	<-p.negLoopDone
}

// Close removes the participant from the room and closes its connections.
func (p *Participant) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.stop()
	p.room.leave(p)
	err := p.sub.Close()
	if pub := p.pub.Load(); pub != nil {
		err = errors.Join(pub.Close(), err)
	}
	<-p.negLoopDone
	return err
}

// onTrack starts forwarding a track (or one simulcast layer of it).
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	id := remote.ID()
	t, exists := p.published[id]
	if !exists {
		src, declared := p.sources[id]
		if !declared {
			src = SourceCamera
			if remote.Kind() == webrtc.RTPCodecTypeAudio {
				src = SourceMicrophone
			}
		}
		t = newPublishedTrack(p, remote, recv, src)
		p.published[id] = t
	}
	p.mu.Unlock()
	l := t.addLayer(remote)
	if !exists {
		t.updateForwarding()
		p.room.published(t)
	} else {
		for _, d := range *t.downs.Load() {
			d.reselect() // a new simulcast layer may suit a subscriber better
		}
	}
	t.forwardLoop(l) // returns when the track ends
	if !exists {
		p.mu.Lock()
		if p.published[id] == t {
			delete(p.published, id)
		}
		p.mu.Unlock()
		p.room.unpublish(t)
	}
}

// Subscribe starts sending publisher pubID's track trackID to the
// participant (renegotiating its subscribe connection). Participants
// receive every track by default; this is for those who joined with
// WithAutoSubscribe(false), or to resume after Unsubscribe.
func (p *Participant) Subscribe(pubID, trackID string) error {
	t := p.room.findTrack(pubID, trackID)
	if t == nil || t.owner == p {
		return fmt.Errorf("%w: %s/%s", ErrUnknownTrack, pubID, trackID)
	}
	p.subscribeTrack(t, true)
	return nil
}

// Unsubscribe stops sending publisher pubID's track trackID to the
// participant and renegotiates it away.
func (p *Participant) Unsubscribe(pubID, trackID string) error {
	t := p.room.findTrack(pubID, trackID)
	if t == nil {
		return fmt.Errorf("%w: %s/%s", ErrUnknownTrack, pubID, trackID)
	}
	p.mu.Lock()
	if p.unsubscribed == nil {
		p.unsubscribed = map[*publishedTrack]bool{}
	}
	p.unsubscribed[t] = true
	p.mu.Unlock()
	p.unsubscribe(t)
	return nil
}

// subscribe adds a down track for t automatically (room publish/join).
func (p *Participant) subscribe(t *publishedTrack) { p.subscribeTrack(t, false) }

// subscribeTrack adds a down track for t to the subscribe connection;
// explicit requests override WithAutoSubscribe(false) and Unsubscribe.
func (p *Participant) subscribeTrack(t *publishedTrack, explicit bool) {
	p.mu.Lock()
	if explicit {
		delete(p.unsubscribed, t)
	}
	if p.closed || (!explicit && (p.noAutoSub || p.unsubscribed[t])) || p.downs[t] != nil {
		p.mu.Unlock()
		return
	}
	d := newDownTrack(p, t)
	p.downs[t] = d
	want := p.wantLayer
	p.mu.Unlock()
	d.selectLayer(want, p.targetBitrate())
	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.room.sfu.cfg.Logger.Warn("sfu: add track", "participant", p.id, "track", t.id, "err", err)
		p.mu.Lock()
		delete(p.downs, t)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	d.sender = sender
	removed := p.downs[t] != d // unsubscribed while AddTrack ran
	p.mu.Unlock()
	if removed {
		_ = p.sub.RemoveTrack(sender)
	} else {
		go d.rtcpLoop(sender)
	}
	p.requestNegotiation()
}

// unsubscribe removes t's down track from the subscribe connection.
func (p *Participant) unsubscribe(t *publishedTrack) {
	p.mu.Lock()
	d := p.downs[t]
	delete(p.downs, t)
	closed := p.closed
	var sender *webrtc.RTPSender
	if d != nil {
		sender = d.sender // nil while subscribe is in AddTrack; it then removes the track itself
	}
	p.mu.Unlock()
	if d == nil {
		return
	}
	t.removeDown(d)
	if closed || sender == nil {
		return
	}
	if err := p.sub.RemoveTrack(sender); err != nil {
		p.room.sfu.cfg.Logger.Debug("sfu: remove track", "participant", p.id, "err", err)
	}
	p.requestNegotiation()
}

func (p *Participant) requestNegotiation() {
	p.mu.Lock()
	p.negDirty = true
	p.mu.Unlock()
	p.kickNegotiation()
}

func (p *Participant) kickNegotiation() {
	select {
	case p.negKick <- struct{}{}:
	default:
	}
}

// RestartSubscribeICE makes the SFU's next offer on the subscribe
// connection an ICE restart (RFC 8445 §9: new ICE credentials, fresh
// connectivity checks; RFC 9429 §4.1.10.1) and sends it as soon as no
// offer is outstanding. The participant asks for it when its subscribe
// connection went down (its network dropped or changed); on the publish
// connection it restarts ICE itself, with its own offer. DTLS-SRTP and
// every down track survive the restart. Requests made while one is
// pending are folded into it.
func (p *Participant) RestartSubscribeICE() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.subRestart, p.negDirty = true, true
	p.mu.Unlock()
	p.kickNegotiation()
	return nil
}

// negotiateLoop makes the SFU's offers on the subscribe connection one at a
// time: a change made while an offer is outstanding is folded into the next
// offer, sent once the answer arrives. Only the SFU offers on this
// connection, so offers never collide (no glare).
func (p *Participant) negotiateLoop() {
	defer close(p.negLoopDone)
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.negKick:
		}
		p.mu.Lock()
		// After the first offer, and after an ICE-restart offer, wait for
		// the connection to come up before renegotiating: pion's ICE agent
		// can stall when another offer lands while connectivity checks
		// run. A restart the participant asks for goes out regardless: its
		// connection is down.
		settled := !p.offered || (p.subReady.Load() && !p.subRestarted) || p.subRestart ||
			p.sub.ConnectionState() == webrtc.PeerConnectionStateFailed
		dirty := p.negDirty && settled && p.sub.SignalingState() == webrtc.SignalingStateStable
		restart := false
		if dirty {
			// Before the first offer there is no ICE session to restart.
			restart = p.subRestart && p.offered
			p.negDirty, p.offered, p.subRestart = false, true, false
			p.subRestarted = p.subRestarted || restart
		}
		p.mu.Unlock()
		if !dirty {
			continue
		}
		if err := p.offer(restart); err != nil {
			p.room.sfu.cfg.Logger.Warn("sfu: subscribe offer", "participant", p.id, "err", err)
		}
	}
}

// layerLoop re-chooses simulcast layers from the bandwidth estimate.
func (p *Participant) layerLoop() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		want := p.wantLayer
		p.mu.Unlock()
		est := p.bwe.Estimate()
		for _, d := range p.downTracks() {
			d.selectLayer(want, est)
		}
	}
}

// offer makes and sends an offer on the subscribe connection; with
// restart, an ICE restart.
func (p *Participant) offer(restart bool) error {
	offer, err := p.sub.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return fmt.Errorf("sfu: subscribe: create offer: %w", err)
	}
	if err := p.sub.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("sfu: subscribe: set offer: %w", err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := p.sig.SendOffer(ctx, *p.sub.LocalDescription()); err != nil {
		return fmt.Errorf("sfu: subscribe: send offer: %w", err)
	}
	return nil
}
