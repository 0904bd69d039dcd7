package loadtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// PeersMain runs the child side: it reads commands from r and writes to w
// until r ends or a quit message arrives.
func PeersMain(r io.Reader, w io.Writer) error {
	c := newConn(r, w)
	m, err := c.recv()
	if err != nil {
		return err
	}
	if m.Op != "setup" || m.Setup == nil {
		return fmt.Errorf("loadtest: want setup, got %q", m.Op)
	}
	ps := &peers{c: c, setup: *m.Setup, pcs: map[string]*peertest.Peer{}}
	defer c.close()
	defer ps.close()
	return ps.run()
}

type peers struct {
	c      *conn
	setup  Setup
	api    *webrtc.API
	subAPI *webrtc.API // subscribers: sockets with receive timestamps
	stamps *stampNet

	mu   sync.Mutex
	pcs  map[string]*peertest.Peer // by id (publishers' publish PCs, subscribers' subscribe PCs)
	pubs []*publisher
	subs []*subscriber

	stop chan struct{}
	wg   sync.WaitGroup
}

type publisher struct {
	id     string
	sender *peertest.Sender
	from   atomic.Uint64 // measured range [from, to)
	to     atomic.Uint64
}

type subscriber struct {
	id     string
	mu     sync.Mutex
	got    map[string]map[uint64]struct{} // publisher stream ID → indexes seen in range
	tracks map[string]bool
	lat    []float64 // ms, measured phase
	copy   []float64 // ms, measured phase: socket receipt - publisher send
	copyAt []uint8   // for each copy, its packet's position in its frame
	bad    int64
}

func (ps *peers) run() error {
	var err error
	ps.api, err = peertest.NewAPI(peertest.Config{})
	if err != nil {
		return err
	}
	if ps.stamps, err = newStampNet(); err != nil {
		return err
	}
	ps.subAPI, err = peertest.NewAPI(peertest.Config{Net: ps.stamps, Loopback: true})
	if err != nil {
		return err
	}
	ps.stop = make(chan struct{})
	for i := range ps.setup.Publishers {
		if err := ps.addPublisher(fmt.Sprintf("p%d", i)); err != nil {
			return err
		}
	}
	for {
		m, err := ps.c.recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch m.Op {
		case "answer":
			if p := ps.pc(m.ID); p != nil && m.SDP != nil {
				if err := p.SetRemoteDescription(*m.SDP); err != nil {
					return fmt.Errorf("loadtest: %s: %w", m.ID, err)
				}
				ps.mu.Lock()
				for _, pub := range ps.pubs {
					if pub.id == m.ID {
						pub.sender.Start(transceiverOf(p.PC, pub.sender.RTP))
						ps.wg.Add(1)
						go ps.pump(pub)
					}
				}
				ps.mu.Unlock()
			}
		case "offer":
			p := ps.pc(m.ID)
			if p == nil || m.SDP == nil {
				return fmt.Errorf("loadtest: offer for unknown %q", m.ID)
			}
			ans, err := p.Answer(*m.SDP)
			if err != nil {
				return err
			}
			if err := ps.c.send(msg{Op: "answer", ID: m.ID, SDP: &ans}); err != nil {
				return err
			}
		case "cand":
			if p := ps.pc(m.ID); p != nil && m.Cand != nil {
				_ = p.AddICECandidate(*m.Cand)
			}
		case "subs":
			for i := range ps.setup.Subscribers {
				if err := ps.addSubscriber(fmt.Sprintf("s%d", i)); err != nil {
					return err
				}
			}
			ps.wg.Add(1)
			go ps.waitReady()
		case "measure":
			ps.wg.Add(1)
			go ps.measure(m.N)
		case "quit":
			return nil
		}
	}
}

func transceiverOf(pc *webrtc.PeerConnection, s *webrtc.RTPSender) *webrtc.RTPTransceiver {
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == s {
			return t
		}
	}
	return nil
}

func (ps *peers) pc(id string) *peertest.Peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.pcs[id]
}

func (ps *peers) newPeer(id string, dir int) (*peertest.Peer, error) {
	api := ps.api
	if dir == 2 {
		api = ps.subAPI
	}
	p, err := peertest.New(api)
	if err != nil {
		return nil, err
	}
	p.PC.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		j := c.ToJSON()
		_ = ps.c.send(msg{Op: "cand", ID: id, Dir: dir, Cand: &j})
	})
	ps.mu.Lock()
	ps.pcs[id] = p
	ps.mu.Unlock()
	return p, nil
}

func (ps *peers) addPublisher(id string) error {
	p, err := ps.newPeer(id, 1)
	if err != nil {
		return err
	}
	snd, err := peertest.AddVideo(p, "video", id)
	if err != nil {
		return err
	}
	pub := &publisher{id: id, sender: snd}
	ps.mu.Lock()
	ps.pubs = append(ps.pubs, pub)
	ps.mu.Unlock()
	if err := ps.c.send(msg{Op: "join", ID: id, Pub: true}); err != nil {
		return err
	}
	offer, err := p.Offer()
	if err != nil {
		return err
	}
	return ps.c.send(msg{Op: "offer", ID: id, SDP: &offer})
}

func (ps *peers) addSubscriber(id string) error {
	p, err := ps.newPeer(id, 2)
	if err != nil {
		return err
	}
	s := &subscriber{id: id, got: map[string]map[uint64]struct{}{}, tracks: map[string]bool{}}
	p.PC.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { ps.receive(s, t) })
	ps.mu.Lock()
	ps.subs = append(ps.subs, s)
	ps.mu.Unlock()
	return ps.c.send(msg{Op: "join", ID: id})
}

// pump sends frames at the configured rate until the peers stop.
func (ps *peers) pump(pub *publisher) {
	defer ps.wg.Done()
	per := max(ps.setup.PerFrame, 1)
	interval := time.Duration(int64(time.Second) * int64(per) / int64(max(ps.setup.PPS, 1)))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ps.stop:
			return
		case <-tick.C:
		}
		var err error
		if ps.setup.Gap > 0 {
			_, _, err = pub.sender.WriteFramePaced(0, per, ps.setup.Payload, 3000, ps.setup.Gap)
		} else {
			_, _, _, err = pub.sender.WriteFrame(0, per, ps.setup.Payload, 3000, false)
		}
		if err != nil {
			return
		}
	}
}

func (ps *peers) receive(s *subscriber, t *webrtc.TrackRemote) {
	key := t.StreamID()
	s.mu.Lock()
	s.tracks[key] = true
	s.mu.Unlock()
	var pub *publisher
	ps.mu.Lock()
	for _, p := range ps.pubs {
		if p.id == key {
			pub = p
		}
	}
	ps.mu.Unlock()
	buf := make([]byte, 1500)
	var h rtp.Header
	ssrc := uint32(t.SSRC())
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		hl, err := h.Unmarshal(buf[:n])
		if err != nil || n-hl < peertest.MinPayload || pub == nil {
			s.mu.Lock()
			s.bad++
			s.mu.Unlock()
			continue
		}
		payload := buf[hl:n]
		idx := binary.BigEndian.Uint64(payload[2:])
		sent := int64(binary.BigEndian.Uint64(payload[10:])) //nolint:gosec // time
		from, to := pub.from.Load(), pub.to.Load()
		if from == 0 || idx < from || (to != 0 && idx >= to) {
			continue
		}
		s.mu.Lock()
		m := s.got[key]
		if m == nil {
			m = map[uint64]struct{}{}
			s.got[key] = m
		}
		if _, dup := m[idx]; !dup {
			m[idx] = struct{}{}
			s.lat = append(s.lat, float64(now-sent)/1e6)
			if at, ok := ps.stamps.tab.Get(ssrc, h.SequenceNumber); ok {
				s.copy = append(s.copy, float64(at-sent)/1e6)
				// Publishers number packets from 0 and every frame has
				// PerFrame of them.
				s.copyAt = append(s.copyAt, uint8(min(idx%uint64(max(ps.setup.PerFrame, 1)), 255))) //nolint:gosec // bounded
			}
		}
		s.mu.Unlock()
	}
}

// waitReady reports once every subscriber receives every publisher.
func (ps *peers) waitReady() {
	defer ps.wg.Done()
	start := time.Now()
	for {
		if time.Since(start) > 20*time.Second {
			ps.mu.Lock()
			n, states := 0, map[string]int{}
			for _, s := range ps.subs {
				s.mu.Lock()
				if len(s.tracks) >= len(ps.pubs) {
					n++
				}
				s.mu.Unlock()
				states[ps.pcs[s.id].PC.ConnectionState().String()]++
			}
			ps.mu.Unlock()
			fmt.Fprintf(os.Stderr, "loadtest peers: %d/%d subscribers receiving; states %v\n", n, len(ps.subs), states)
			start = time.Now()
		}
		select {
		case <-ps.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		ready := true
		ps.mu.Lock()
		for _, s := range ps.subs {
			s.mu.Lock()
			if len(s.tracks) < len(ps.pubs) {
				ready = false
			}
			s.mu.Unlock()
		}
		ps.mu.Unlock()
		if ready {
			_ = ps.c.send(msg{Op: "ready"})
			return
		}
	}
}

// measure marks the next n packets of every publisher as measured, waits
// for them to arrive (or 2 s after the last is sent), and reports.
func (ps *peers) measure(n int) {
	defer ps.wg.Done()
	start := time.Now()
	ps.mu.Lock()
	pubs := slices.Clone(ps.pubs)
	subs := slices.Clone(ps.subs)
	ps.mu.Unlock()
	for _, p := range pubs {
		// Strictly after anything already sent, with one packet to spare
		// for one being written now: a paced frame's packets go out one
		// by one, so this asks the sender, not the frame loop.
		from := p.sender.Next(0) + 1
		p.to.Store(from + uint64(n))
		p.from.Store(from)
	}
	// Wait until every publisher has sent its range.
	for _, p := range pubs {
		for p.sender.Next(0) < p.to.Load() {
			select {
			case <-ps.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	sentDone := time.Now()
	expected := int64(n) * int64(len(pubs)) * int64(len(subs))
	for time.Since(sentDone) < 2*time.Second {
		if ps.delivered(subs) >= expected {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := PeerStats{Sent: int64(n) * int64(len(pubs)), Expected: expected, Delivered: ps.delivered(subs),
		Seconds: sentDone.Sub(start).Seconds()}
	var lat, cp []float64
	byPos := make([][]float64, min(max(ps.setup.PerFrame, 1), 256))
	for _, s := range subs {
		s.mu.Lock()
		lat = append(lat, s.lat...)
		cp = append(cp, s.copy...)
		for i, at := range s.copyAt {
			byPos[at] = append(byPos[at], s.copy[i])
		}
		st.Corrupt += s.bad
		s.mu.Unlock()
	}
	st.P50Ms, st.P99Ms, st.MeanMs = percentiles(lat)
	st.CopyP50Ms, st.CopyP99Ms, _ = percentiles(cp)
	st.CopyN = int64(len(cp))
	for _, v := range byPos {
		p50, p99, _ := percentiles(v)
		st.CopyP50ByPosMs = append(st.CopyP50ByPosMs, p50)
		st.CopyP99ByPosMs = append(st.CopyP99ByPosMs, p99)
	}
	_ = ps.c.send(msg{Op: "stats", Stats: &st})
}

func (ps *peers) delivered(subs []*subscriber) int64 {
	var d int64
	for _, s := range subs {
		s.mu.Lock()
		for _, m := range s.got {
			d += int64(len(m))
		}
		s.mu.Unlock()
	}
	return d
}

func percentiles(v []float64) (p50, p99, mean float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	slices.Sort(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	at := func(q float64) float64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	return at(0.50), at(0.99), sum / float64(len(v))
}

func (ps *peers) close() {
	close(ps.stop)
	ps.mu.Lock()
	pcs := make([]*peertest.Peer, 0, len(ps.pcs))
	for _, p := range ps.pcs {
		pcs = append(pcs, p)
	}
	ps.mu.Unlock()
	for _, p := range pcs {
		_ = p.Close()
	}
	ps.wg.Wait()
}
