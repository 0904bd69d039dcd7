package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu/internal/pktcache"
	"github.com/tresor-dev/tresor/sfu/internal/vp8"
)

// publishedTrack is one track a participant publishes, with up to three
// simulcast layers, and the down tracks it fans out to.
type publishedTrack struct {
	owner    *Participant
	id       string
	streamID string
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecParameters
	levelID  uint8 // publisher's RFC 6464 audio-level extension ID, 0 if none
	src      atomic.Uint32
	fwd      atomic.Bool // neither muted nor forbidden
	speaker  speakerMeter
	layersMu sync.Mutex
	layers   [maxLayers]*upLayer
	nlayers  atomic.Int32
	downsMu  sync.Mutex
	downs    atomic.Pointer[[]*downTrack] // copy-on-write, read per packet
	closed   atomic.Bool
}

// upLayer is one incoming RTP stream (one simulcast layer).
type upLayer struct {
	t       *publishedTrack
	index   Layer
	remote  *webrtc.TrackRemote
	ssrc    uint32
	cache   *pktcache.Cache
	lastPLI atomic.Int64  // unix nanos of the last PLI sent
	bitrate atomic.Uint64 // measured bits/s
	seen    atomic.Int64  // unix nanos of the last packet
}

func newPublishedTrack(p *Participant, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver, src Source) *publishedTrack {
	t := &publishedTrack{owner: p, id: remote.ID(), streamID: remote.StreamID(), kind: remote.Kind(), codec: remote.Codec()}
	t.src.Store(uint32(src))
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == uriAudioLevel {
			t.levelID = uint8(e.ID) //nolint:gosec // extension IDs are 1..14
		}
	}
	empty := []*downTrack{}
	t.downs.Store(&empty)
	return t
}

func (t *publishedTrack) source() Source     { return Source(t.src.Load()) }
func (t *publishedTrack) setSource(s Source) { t.src.Store(uint32(s)) }

// updateForwarding recomputes whether the track may be forwarded: it is not
// when its owner muted it or may not publish its source.
func (t *publishedTrack) updateForwarding() {
	ok := t.owner.allowed(t.source()) && !t.owner.isMuted(t.id)
	if t.fwd.Swap(ok) != ok && ok && t.kind == webrtc.RTPCodecTypeVideo {
		// Forwarding resumes: subscribers need a fresh key frame.
		for _, d := range *t.downs.Load() {
			d.restart()
		}
		t.requestKeyFrame(LayerAuto)
	}
}

func (t *publishedTrack) addLayer(remote *webrtc.TrackRemote) *upLayer {
	t.layersMu.Lock()
	defer t.layersMu.Unlock()
	idx := layerForRID(remote.RID(), int(t.nlayers.Load()))
	size := t.owner.room.sfu.cfg.AudioCachePackets
	if t.kind == webrtc.RTPCodecTypeVideo {
		size = t.owner.room.sfu.cfg.VideoCachePackets
	}
	l := &upLayer{t: t, index: idx, remote: remote, ssrc: uint32(remote.SSRC()), cache: pktcache.New(size)}
	l.seen.Store(t.owner.room.sfu.cfg.Now().UnixNano()) // OnTrack fires on its first packet
	if t.layers[idx] == nil {
		t.nlayers.Add(1)
	}
	t.layers[idx] = l
	return l
}

func (t *publishedTrack) layer(i Layer) *upLayer {
	if i < 0 || i >= maxLayers {
		return nil
	}
	t.layersMu.Lock()
	defer t.layersMu.Unlock()
	return t.layers[i]
}

// layerIdle is how long a layer may send nothing before layer choice
// treats it as gone (a sender may pause its top layer under congestion).
const layerIdle = time.Second

// layerBitrates returns the measured bitrate of each layer and which layers
// are live (sent within layerIdle).
func (t *publishedTrack) layerBitrates() (rates [maxLayers]uint64, present [maxLayers]bool) {
	now := t.owner.room.sfu.cfg.Now().UnixNano()
	t.layersMu.Lock()
	defer t.layersMu.Unlock()
	for i, l := range t.layers {
		if l != nil && now-l.seen.Load() < int64(layerIdle) {
			rates[i], present[i] = l.bitrate.Load(), true
		}
	}
	return rates, present
}

func (t *publishedTrack) addDown(d *downTrack) {
	t.downsMu.Lock()
	defer t.downsMu.Unlock()
	old := *t.downs.Load()
	for _, x := range old {
		if x == d {
			return
		}
	}
	n := make([]*downTrack, len(old), len(old)+1)
	copy(n, old)
	n = append(n, d)
	t.downs.Store(&n)
}

func (t *publishedTrack) removeDown(d *downTrack) {
	t.downsMu.Lock()
	defer t.downsMu.Unlock()
	old := *t.downs.Load()
	n := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			n = append(n, x)
		}
	}
	t.downs.Store(&n)
}

func (t *publishedTrack) removeSubscriber(p *Participant) {
	for _, d := range *t.downs.Load() {
		if d.p == p {
			t.removeDown(d)
		}
	}
}

func (t *publishedTrack) close() { t.closed.Store(true) }

// requestKeyFrame asks the publisher for a key frame on layer i (all layers
// for LayerAuto), merging requests: at most one PLI per layer per
// Config.PLIThrottle (RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1, is mapped to
// PLI).
func (t *publishedTrack) requestKeyFrame(i Layer) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if i == LayerAuto {
		for j := Layer(0); j < maxLayers; j++ {
			t.requestKeyFrame(j)
		}
		return
	}
	l := t.layer(i)
	if l == nil {
		return
	}
	l.requestKeyFrame()
}

func (l *upLayer) requestKeyFrame() {
	s := l.t.owner.room.sfu
	now := s.cfg.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(s.cfg.PLIThrottle) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	s.metrics.plisOut.Inc()
	pc := l.t.owner.pub.Load()
	if pc == nil {
		return
	}
	if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		s.cfg.Logger.Debug("sfu: send PLI", "participant", l.t.owner.id, "err", err)
	}
}

// packet is one parsed incoming packet, passed to every down track.
type packet struct {
	layer   Layer
	hdr     *rtp.Header
	payload []byte // without padding
	key     bool   // starts a VP8 key frame
	level   int16  // RFC 6464 level byte (V bit and level), -1 if absent
	arrival time.Time
}

// forwardLoop reads one layer until the track ends, caches every packet for
// NACKs and fans it out to the down tracks. It runs on the goroutine pion
// calls OnTrack on and allocates nothing per packet.
func (t *publishedTrack) forwardLoop(l *upLayer) {
	s := t.owner.room.sfu
	m := s.metrics
	buf := make([]byte, pktcache.MaxPacket)
	hdr := rtp.Header{CSRC: make([]uint32, 0, 15), Extensions: make([]rtp.Extension, 0, 8)}
	pk := packet{layer: l.index, hdr: &hdr}
	var winBytes, bad uint64
	winStart := s.cfg.Now()
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !t.closed.Load() {
				s.cfg.Logger.Debug("sfu: read track", "participant", t.owner.id, "track", t.id, "err", err)
			}
			return
		}
		if t.closed.Load() {
			return
		}
		pk.arrival = s.cfg.Now()
		l.seen.Store(pk.arrival.UnixNano())
		m.packetsIn.Inc()
		m.bytesIn.Add(float64(n))
		winBytes += uint64(n)
		if d := pk.arrival.Sub(winStart); d >= time.Second {
			l.bitrate.Store(winBytes * 8 * uint64(time.Second) / uint64(d))
			winBytes, winStart = 0, pk.arrival
		}

		if pk.payload, err = parseRTP(buf[:n], &hdr); err != nil {
			m.badPackets.Inc()
			if bad++; bad%1000 == 1 { // the first, then every 1000th
				s.cfg.Logger.Warn("sfu: malformed RTP from publisher", "participant", t.owner.id, "track", t.id,
					"bytes", n, "count", bad, "err", err)
			}
			continue
		}
		l.cache.Put(hdr.SequenceNumber, buf[:n])

		if !t.fwd.Load() {
			m.dropped.Inc()
			continue
		}
		pk.key = t.kind == webrtc.RTPCodecTypeVideo && vp8.IsKeyFrameStart(pk.payload)
		pk.level = -1
		if t.levelID != 0 {
			if ext := hdr.GetExtension(t.levelID); len(ext) >= 1 {
				pk.level = int16(ext[0])
				t.speaker.add(ext[0] & 0x7f)
			}
		}

		sent, needKey := 0, false
		if s.batch != nil {
			s.batch.Begin()
		}
		for _, d := range *t.downs.Load() {
			ok, wantKey := d.forward(&pk)
			if ok {
				sent++
			}
			needKey = needKey || wantKey
		}
		if s.batch != nil {
			s.batch.End()
		}
		if needKey {
			l.requestKeyFrame()
		}
		if sent > 0 {
			m.packetsOut.Add(float64(sent))
			m.bytesOut.Add(float64(sent * len(pk.payload)))
			m.forward.Observe(s.cfg.Now().Sub(pk.arrival).Seconds())
			if s.batch != nil {
				// Receive times are the kernel's wall clock, so this uses
				// time.Now rather than the injectable Config.Now.
				if rx, ok := s.batch.RxTime(l.ssrc, hdr.SequenceNumber); ok {
					m.residence.Observe(float64(time.Now().UnixNano()-rx) / 1e9)
				}
			}
		}
	}
}

// errBadPadding reports an RTP padding count that does not fit the packet.
var errBadPadding = errors.New("sfu: bad RTP padding")

// parseRTP parses an RTP packet (RFC 3550 §5.1) into hdr, reusing hdr's
// slices, and returns the payload without padding; hdr.PaddingSize holds
// the padding length so that writing hdr and the payload restores it.
func parseRTP(pkt []byte, hdr *rtp.Header) ([]byte, error) {
	hl, err := hdr.Unmarshal(pkt)
	if err != nil {
		return nil, err
	}
	payload := pkt[hl:]
	hdr.PaddingSize = 0
	if hdr.Padding {
		if len(payload) == 0 {
			return nil, errBadPadding
		}
		pad := int(pkt[len(pkt)-1])
		if pad == 0 || pad > len(payload) {
			return nil, errBadPadding
		}
		hdr.PaddingSize = byte(pad)
		payload = payload[:len(payload)-pad]
	}
	return payload, nil
}

// speakerMeter accumulates RFC 6464 audio levels (0 = loudest, 127 =
// silence, in -dBov) between two active-speaker evaluations.
type speakerMeter struct {
	sum atomic.Uint64
	n   atomic.Uint64
}

// speakingLevel is the loudest average level, in -dBov, that still counts
// as silence (RFC 6464 §3: 127 is silence).
const speakingLevel = 50

func (s *speakerMeter) add(level uint8) {
	s.sum.Add(uint64(127 - level))
	s.n.Add(1)
}

// take returns the mean loudness (127 - level) since the last call and
// whether it is above the speaking threshold.
func (s *speakerMeter) take() (float64, bool) {
	n := s.n.Swap(0)
	sum := s.sum.Swap(0)
	if n < 3 {
		return 0, false
	}
	loud := float64(sum) / float64(n)
	return loud, loud >= 127-speakingLevel
}
