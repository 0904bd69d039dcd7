package peertest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Sender publishes one track (with up to three simulcast layers) and answers
// key-frame requests by making the next frame a key frame.
type Sender struct {
	Video  bool
	Tracks []*webrtc.TrackLocalStaticRTP // one per simulcast layer
	RTP    *webrtc.RTPSender
	// PLIs counts key-frame requests (PLI or FIR) received.
	PLIs atomic.Int64

	mu      sync.Mutex
	keyReq  []bool
	seq     []uint16
	ts      []uint32
	next    []uint64
	midID   uint8
	ridID   uint8
	levelID uint8
	mid     string
	buf     []byte
	pkt     rtp.Packet
}

// AddVideo adds a VP8 track. With rids, it is a simulcast track with one
// encoding per RID, lowest first.
func AddVideo(p *Peer, trackID, streamID string, rids ...string) (*Sender, error) {
	s := &Sender{Video: true}
	layers := rids
	if len(layers) == 0 {
		layers = []string{""}
	}
	for _, rid := range layers {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			trackID, streamID, opts...)
		if err != nil {
			return nil, fmt.Errorf("peertest: video track: %w", err)
		}
		s.Tracks = append(s.Tracks, t)
	}
	tr, err := p.PC.AddTransceiverFromTrack(s.Tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("peertest: add video: %w", err)
	}
	s.RTP = tr.Sender()
	for _, t := range s.Tracks[1:] {
		if err := s.RTP.AddEncoding(t); err != nil {
			return nil, fmt.Errorf("peertest: add encoding: %w", err)
		}
	}
	s.init(len(layers))
	return s, nil
}

// AddAudio adds an Opus track.
func AddAudio(p *Peer, trackID, streamID string) (*Sender, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		trackID, streamID)
	if err != nil {
		return nil, fmt.Errorf("peertest: audio track: %w", err)
	}
	tr, err := p.PC.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("peertest: add audio: %w", err)
	}
	s := &Sender{Tracks: []*webrtc.TrackLocalStaticRTP{t}, RTP: tr.Sender()}
	s.init(1)
	return s, nil
}

func (s *Sender) init(n int) {
	s.keyReq = make([]bool, n)
	s.seq = make([]uint16, n)
	s.ts = make([]uint32, n)
	s.next = make([]uint64, n)
	for i := range n {
		s.keyReq[i] = true
		s.seq[i] = uint16(1000 * (i + 1))
		s.ts[i] = uint32(100000 * (i + 1))
		s.next[i] = uint64(i) << 56
	}
	s.buf = make([]byte, 1400)
}

// Start must be called once the publish connection is negotiated: it learns
// the negotiated extension IDs and starts reading RTCP.
func (s *Sender) Start(tr *webrtc.RTPTransceiver) {
	s.mu.Lock()
	for _, e := range s.RTP.GetParameters().HeaderExtensions {
		switch e.URI {
		case "urn:ietf:params:rtp-hdrext:sdes:mid":
			s.midID = uint8(e.ID) //nolint:gosec // 1..14
		case "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":
			s.ridID = uint8(e.ID) //nolint:gosec // 1..14
		case "urn:ietf:params:rtp-hdrext:ssrc-audio-level":
			s.levelID = uint8(e.ID) //nolint:gosec // 1..14
		}
	}
	if tr != nil {
		s.mid = tr.Mid()
	}
	s.mu.Unlock()
	go s.readRTCP()
}

func (s *Sender) readRTCP() {
	if len(s.Tracks) == 1 {
		for {
			pkts, _, err := s.RTP.ReadRTCP()
			if err != nil {
				return
			}
			s.onRTCP(pkts)
		}
	}
	// Simulcast: RTCP is read per RID.
	for _, t := range s.Tracks {
		go func(rid string) {
			for {
				pkts, _, err := s.RTP.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				s.onRTCP(pkts)
			}
		}(t.RID())
	}
}

func (s *Sender) onRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		var ssrc uint32
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			ssrc = p.MediaSSRC
		case *rtcp.FullIntraRequest:
			ssrc = p.MediaSSRC
		default:
			continue
		}
		s.PLIs.Add(1)
		s.mu.Lock()
		for i, e := range s.RTP.GetParameters().Encodings {
			if uint32(e.SSRC) == ssrc && i < len(s.keyReq) {
				s.keyReq[i] = true
			}
		}
		s.mu.Unlock()
	}
}

// RequestKeyFrame makes the next frame of every layer a key frame.
func (s *Sender) RequestKeyFrame() {
	s.mu.Lock()
	for i := range s.keyReq {
		s.keyReq[i] = true
	}
	s.mu.Unlock()
}

// WriteFrame writes one video frame of npkts packets of size bytes on layer,
// a key frame if one was requested (or force). It returns the indexes of
// the packets written. frameTicks advances the RTP timestamp (90 kHz).
func (s *Sender) WriteFrame(layer, npkts, size int, frameTicks uint32, force bool) (first, last uint64, key bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key = force || s.keyReq[layer]
	s.keyReq[layer] = false
	first = s.next[layer]
	for i := range npkts {
		if err := s.writeLocked(layer, size, i == 0, key, i == npkts-1, -1); err != nil {
			return first, s.next[layer] - 1, key, err
		}
	}
	s.ts[layer] += frameTicks
	return first, s.next[layer] - 1, key, nil
}

// Next returns the index of the next packet to be written on layer: every
// packet with a lower index has been handed to pion.
func (s *Sender) Next(layer int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next[layer]
}

// WriteFramePaced is WriteFrame with gap between the frame's packets, the
// way a sender's pacer spreads a frame out (libwebrtc paces at 2.5 times
// the target bitrate). It sleeps without holding the Sender's lock, so key
// frame requests are taken meanwhile; they apply to the next frame.
func (s *Sender) WriteFramePaced(layer, npkts, size int, frameTicks uint32, gap time.Duration) (first, last uint64, err error) {
	s.mu.Lock()
	key := s.keyReq[layer]
	s.keyReq[layer] = false
	first = s.next[layer]
	s.mu.Unlock()
	for i := range npkts {
		if i > 0 {
			time.Sleep(gap)
		}
		s.mu.Lock()
		err = s.writeLocked(layer, size, i == 0, key, i == npkts-1, -1)
		last = s.next[layer] - 1
		if i == npkts-1 || err != nil {
			s.ts[layer] += frameTicks
		}
		s.mu.Unlock()
		if err != nil {
			return first, last, err
		}
	}
	return first, last, nil
}

// WriteAudio writes one 20 ms audio packet carrying an RFC 6464 audio level
// (0 loudest .. 127 silence).
func (s *Sender) WriteAudio(size int, level uint8) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.next[0]
	err := s.writeLocked(0, size, false, false, true, int(level))
	s.ts[0] += 960
	return idx, err
}

func (s *Sender) writeLocked(layer, size int, start, key, marker bool, level int) error {
	if size < MinPayload || size > len(s.buf) {
		return fmt.Errorf("peertest: payload size %d out of range", size)
	}
	idx := s.next[layer]
	s.next[layer]++
	payload := s.buf[:size]
	FillPayload(payload, s.Video, start, key, idx, time.Now().UnixNano())
	p := &s.pkt
	*p = rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: s.seq[layer], Timestamp: s.ts[layer],
		Extensions: p.Extensions[:0]}, Payload: payload}
	s.seq[layer]++
	if len(s.Tracks) > 1 {
		if s.midID != 0 {
			_ = p.Header.SetExtension(s.midID, []byte(s.mid))
		}
		if s.ridID != 0 {
			_ = p.Header.SetExtension(s.ridID, []byte(s.Tracks[layer].RID()))
		}
	}
	if level >= 0 && s.levelID != 0 {
		_ = p.Header.SetExtension(s.levelID, []byte{byte(level) & 0x7f})
	}
	return s.Tracks[layer].WriteRTP(p)
}

// Received is one packet a Receiver got.
type Received struct {
	Seq       uint16
	Timestamp uint32
	Index     uint64
	SentNanos int64
	RecvNanos int64
	Key       bool
	Err       error // payload differs from what was sent
}

// Receive reads track until it ends, calling fn for each packet (from the
// reading goroutine).
func Receive(track *webrtc.TrackRemote, fn func(Received)) {
	video := track.Kind() == webrtc.RTPCodecTypeVideo
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			fn(Received{Err: err, RecvNanos: now})
			continue
		}
		idx, sent, err := CheckPayload(pkt.Payload, video)
		fn(Received{Seq: pkt.SequenceNumber, Timestamp: pkt.Timestamp, Index: idx, SentNanos: sent, RecvNanos: now,
			Key: video && IsKeyStart(pkt.Payload), Err: err})
	}
}
