package tresor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/e2ee/piontrack"
	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/signaling"
)

// mediaConn holds the two peer connections the SFU expects (package sfu):
// "publish", on which this client sends and always offers, and "subscribe",
// on which it receives and the SFU always offers. Signals from the server
// are handled in order by one goroutine (in); signals to the server are sent
// in order by another (out). Two more (watch) bring each connection back
// by ICE restart when the network drops or changes (see recovery.go).
type mediaConn struct {
	m        *Meeting
	pub, sub *webrtc.PeerConnection

	in  chan signaling.MediaSignal
	out chan signaling.MediaSignal

	pubMu     sync.Mutex // one publish negotiation at a time
	pubAnswer chan error // result of applying the SFU's answer

	startOnce sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc

	// ICE candidates that arrive before their connection's remote
	// description of their ICE session (the first, or an ICE restart's)
	// wait at its gate (trickle ICE).
	pubCands, subCands trickle.Gate

	pubWatch, subWatch *iceWatch

	tmu    sync.Mutex
	tracks []*RemoteTrack
}

func newMediaConn(m *Meeting) (*mediaConn, error) {
	api := m.opts.api
	if api == nil {
		var err error
		if api, err = NewAPI(m.opts.settings); err != nil {
			return nil, err
		}
	}
	pub, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("tresor: publish connection: %w", err)
	}
	sub, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		pub.Close()
		return nil, fmt.Errorf("tresor: subscribe connection: %w", err)
	}
	// An offer without any media section has no ICE credentials, so the
	// publish connection always carries one receive-only section: the
	// first offer (before anything is published) then opens the
	// participant's session on the SFU, which starts offering the others'
	// tracks on the subscribe connection.
	if _, err := pub.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		pub.Close()
		sub.Close()
		return nil, fmt.Errorf("tresor: publish connection: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &mediaConn{m: m, pub: pub, sub: sub,
		in: make(chan signaling.MediaSignal, 1024), out: make(chan signaling.MediaSignal, 1024),
		pubAnswer: make(chan error, 1), ctx: ctx, cancel: cancel}
	pub.OnICECandidate(c.onCandidate(signaling.DirectionPublish))
	sub.OnICECandidate(c.onCandidate(signaling.DirectionSubscribe))
	c.pubWatch = newICEWatch(signaling.DirectionPublish, pub)
	c.subWatch = newICEWatch(signaling.DirectionSubscribe, sub)
	sub.OnTrack(c.onTrack)
	return c, nil
}

// start begins media once the client is admitted: the goroutines, and a
// first publish offer, which opens the participant's session on the
// SFU so that it starts offering the others' tracks.
func (c *mediaConn) start() {
	c.startOnce.Do(func() {
		c.wg.Add(5)
		go c.inLoop()
		go c.outLoop()
		go c.watch(c.pubWatch)
		go c.watch(c.subWatch)
		go func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
			defer cancel()
			if err := c.negotiate(ctx, false); err != nil && c.ctx.Err() == nil {
				c.m.log.Warn("tresor: first publish offer", "err", err)
			}
		}()
	})
}

func (c *mediaConn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.pub.Close()
		c.sub.Close()
		c.wg.Wait()
		c.tmu.Lock()
		tracks := c.tracks
		c.tmu.Unlock()
		for _, t := range tracks {
			<-t.done
		}
	})
}

func (c *mediaConn) send(s signaling.MediaSignal) {
	select {
	case c.out <- s:
	case <-c.ctx.Done():
	}
}

// signal queues a signal from the SFU; the in goroutine applies it.
func (c *mediaConn) signal(s signaling.MediaSignal) {
	select {
	case c.in <- s:
	default:
		c.m.log.Warn("tresor: media signal queue full, signal dropped", "kind", s.Kind)
	}
}

func (c *mediaConn) outLoop() {
	defer c.wg.Done()
	for {
		select {
		case s := <-c.out:
			ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
			err := c.m.sig.SendMedia(ctx, s)
			cancel()
			if err != nil && c.ctx.Err() == nil {
				c.m.log.Warn("tresor: media signal refused", "kind", s.Kind, "target", s.Direction, "err", err)
			}
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *mediaConn) inLoop() {
	defer c.wg.Done()
	for {
		select {
		case s := <-c.in:
			if err := c.apply(s); err != nil && c.ctx.Err() == nil {
				c.m.log.Warn("tresor: media signal", "kind", s.Kind, "target", s.Direction, "err", err)
			}
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *mediaConn) pc(target signaling.Direction) *webrtc.PeerConnection {
	if target == signaling.DirectionPublish {
		return c.pub
	}
	return c.sub
}

func (c *mediaConn) apply(s signaling.MediaSignal) error {
	switch s.Kind {
	case signaling.SignalAnswer:
		if s.Direction != signaling.DirectionPublish {
			return errors.New("answer for a connection this client did not offer on")
		}
		err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
		if err == nil {
			c.flush(signaling.DirectionPublish, s.SDP)
			c.pubWatch.described(s.SDP)
		}
		select {
		case c.pubAnswer <- err:
		default:
		}
		return err
	case signaling.SignalOffer:
		if s.Direction != signaling.DirectionSubscribe {
			return errors.New("offer for the publish connection")
		}
		if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			return err
		}
		c.flush(signaling.DirectionSubscribe, s.SDP)
		c.subWatch.described(s.SDP)
		answer, err := c.sub.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.sub.SetLocalDescription(answer); err != nil {
			return err
		}
		c.send(signaling.MediaSignal{Kind: signaling.SignalAnswer, Direction: signaling.DirectionSubscribe, SDP: answer.SDP})
		return nil
	case signaling.SignalCandidate:
		if s.Candidate == "" {
			return nil
		}
		ci := webrtc.ICECandidateInit{Candidate: s.Candidate, SDPMid: s.SDPMid, SDPMLineIndex: s.SDPMLineIndex, UsernameFragment: s.UsernameFragment}
		if c.gate(s.Direction).Hold(ci) {
			return nil
		}
		return c.pc(s.Direction).AddICECandidate(ci)
	}
	return nil
}

// gate returns the candidate gate of a connection.
func (c *mediaConn) gate(d signaling.Direction) *trickle.Gate {
	if d == signaling.DirectionPublish {
		return &c.pubCands
	}
	return &c.subCands
}

// flush opens a connection's gate once its remote description sdp is set,
// and adds the candidates of sdp's ICE session that waited.
func (c *mediaConn) flush(d signaling.Direction, sdp string) {
	for _, ci := range c.gate(d).Open(sdp) {
		if err := c.pc(d).AddICECandidate(ci); err != nil {
			c.m.log.Debug("tresor: queued candidate", "err", err)
		}
	}
}

func (c *mediaConn) onCandidate(target signaling.Direction) func(*webrtc.ICECandidate) {
	return func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		ci := cand.ToJSON()
		c.send(signaling.MediaSignal{Kind: signaling.SignalCandidate, Direction: target, Candidate: ci.Candidate,
			SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex, UsernameFragment: ci.UsernameFragment})
	}
}

// negotiate offers the publish connection's current tracks and waits for
// the SFU's answer; with restart, the offer restarts ICE (RFC 8445 §9:
// new credentials, new candidates, fresh connectivity checks), which keeps
// DTLS-SRTP and the tracks.
func (c *mediaConn) negotiate(ctx context.Context, restart bool) error {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	select { // a stale answer result
	case <-c.pubAnswer:
	default:
	}
	offer, err := c.pub.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return fmt.Errorf("tresor: publish offer: %w", err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("tresor: publish offer: %w", err)
	}
	c.send(signaling.MediaSignal{Kind: signaling.SignalOffer, Direction: signaling.DirectionPublish, SDP: offer.SDP})
	select {
	case err := <-c.pubAnswer:
		if err != nil {
			return fmt.Errorf("tresor: publish answer: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

func (c *mediaConn) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if c.ctx.Err() != nil {
		return
	}
	rt, err := newRemoteTrack(c.m, tr, recv)
	if err != nil {
		c.m.log.Warn("tresor: remote track refused", "participant", tr.StreamID(), "err", err)
		return
	}
	c.tmu.Lock()
	c.tracks = append(c.tracks, rt)
	c.tmu.Unlock()
	go rt.loop()
	go drainRTCP(recv.Read)
	c.m.events.Push(&TrackAdded{Track: rt})
}

func drainRTCP(read func([]byte) (int, interceptor.Attributes, error)) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := read(buf); err != nil {
			return
		}
	}
}

// senderRTCP reads the RTCP the SFU sends about a published track (it must
// be read for pion's interceptors to work) and turns key-frame requests
// (PLI, RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1) into KeyFrameRequested
// events, at most one per keyFrameInterval: the SFU is not trusted to pace
// them. Unparsable packets are skipped.
func (c *mediaConn) senderRTCP(t *LocalTrack, s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	var last time.Time
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			c.m.log.Debug("tresor: unparsable RTCP from the SFU", "track", t.ID(), "bytes", n, "err", err)
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if now := time.Now(); now.Sub(last) >= keyFrameInterval {
					last = now
					c.m.events.Push(&KeyFrameRequested{Track: t})
				}
			}
		}
	}
}

// Source says what a published track carries.
type Source = signaling.Source

// Publish adds a local track for src and negotiates it with the SFU:
// camera and screen are VP8 video, microphone is Opus audio. Write encoded
// frames to it with [LocalTrack.WriteSample]; each is SFrame-encrypted with
// the current epoch's key before packetization.
func (m *Meeting) Publish(ctx context.Context, src Source) (*LocalTrack, error) {
	if m.Self().Identity == "" {
		return nil, fmt.Errorf("tresor: publish: %w", ErrNotAdmitted)
	}
	mime, kind := webrtc.MimeTypeVP8, "video"
	switch src {
	case signaling.SourceMicrophone:
		mime, kind = webrtc.MimeTypeOpus, "audio"
	case signaling.SourceCamera, signaling.SourceScreen:
	default:
		return nil, fmt.Errorf("tresor: publish: unknown source %q", src)
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("tresor: publish: %w", err)
	}
	id := kind + "-" + hex.EncodeToString(idb[:])
	out := &LocalTrack{source: src}
	var track webrtc.TrackLocal
	if kind == "audio" {
		at, err := newAudioTrack(id, m.Self().Identity, m.keys.Sender())
		if err != nil {
			return nil, fmt.Errorf("tresor: publish: %w", err)
		}
		out.t, out.audio, track = at, at, at
	} else {
		raw, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, id, m.Self().Identity)
		if err != nil {
			return nil, fmt.Errorf("tresor: publish: %w", err)
		}
		lt, err := piontrack.NewLocalTrack(raw, m.keys.Sender())
		if err != nil {
			return nil, fmt.Errorf("tresor: publish: %w", err)
		}
		out.t, track = lt, lt
	}
	c := m.media
	tr, err := c.pub.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("tresor: publish: %w", err)
	}
	out.sender = tr.Sender()
	go c.senderRTCP(out, tr.Sender())
	c.send(signaling.MediaSignal{Kind: signaling.SignalTrack, TrackID: id, Source: src})
	if err := c.negotiate(ctx, false); err != nil {
		return nil, err
	}
	return out, nil
}

// Unpublish stops sending t and renegotiates the publish connection; the
// SFU stops forwarding the track and the others' tracks end.
func (m *Meeting) Unpublish(ctx context.Context, t *LocalTrack) error {
	if t == nil || t.sender == nil {
		return errors.New("tresor: unpublish: not a published track")
	}
	if err := m.media.pub.RemoveTrack(t.sender); err != nil {
		return fmt.Errorf("tresor: unpublish: %w", err)
	}
	return m.media.negotiate(ctx, false)
}
