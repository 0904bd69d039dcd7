package sfu

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu/internal/pktcache"
	"github.com/tresor-dev/tresor/sfu/internal/rtcpx"
)

// downTrack is one published track as one subscriber receives it: a
// webrtc.TrackLocal that rewrites SSRC, payload type, sequence numbers and
// timestamps, and remaps header-extension IDs. Payload bytes pass untouched.
//
// Sequence numbers and timestamps are shifted by per-subscriber offsets so
// that the subscriber sees one continuous stream even across simulcast
// switches (RFC 3550 §5.1 requires consecutive sequence numbers and a
// timestamp clock that does not jump backwards).
type downTrack struct {
	p *Participant // the subscriber
	t *publishedTrack

	sender *webrtc.RTPSender

	override atomic.Int32 // per-track layer request, noOverride when none

	mu      sync.Mutex
	bound   bool
	writer  webrtc.TrackLocalWriter
	ssrc    uint32
	pt      uint8
	levelID uint8 // subscriber-side audio-level extension ID
	twccID  uint8 // subscriber-side transport-wide CC extension ID
	clock   uint32

	current, target Layer
	started         bool
	seqOff          uint16
	tsOff           uint32
	lastSeq         uint16
	lastTS          uint32
	lastArrival     time.Time

	seqMap []seqEntry // outgoing seq -> cached incoming packet, for NACKs
	hdr    rtp.Header
	exts   [2]rtp.Extension
	level  [1]byte
	twcc   [2]byte

	rtxMu   sync.Mutex
	rtxBuf  []byte
	rtxIn   rtp.Header
	rtxOut  rtp.Header
	rtxExts [1]rtp.Extension
	rtxTWCC [2]byte
}

// noOverride marks a down track that follows its subscriber's layer wish.
const noOverride Layer = -2

type seqEntry struct {
	valid  bool
	layer  Layer
	outSeq uint16
	inSeq  uint16
	tsOff  uint32
	rtxAt  int64 // unix nanos of the last retransmission
}

// nackRepeatInterval is the minimum time between two retransmissions of
// one packet to one subscriber: a repeated NACK within it is ignored, which
// bounds what a NACK storm (or a hostile subscriber) can make the SFU send.
const nackRepeatInterval = 40 * time.Millisecond

func newDownTrack(p *Participant, t *publishedTrack) *downTrack {
	n := p.room.sfu.cfg.AudioCachePackets
	if t.kind == webrtc.RTPCodecTypeVideo {
		n = p.room.sfu.cfg.VideoCachePackets
	}
	size := 16
	for size < n && size < 32768 {
		size <<= 1
	}
	d := &downTrack{p: p, t: t, current: -1, target: LayerLow, seqMap: make([]seqEntry, size),
		rtxBuf: make([]byte, pktcache.MaxPacket)}
	d.override.Store(int32(noOverride))
	return d
}

// ID is the publisher's track ID; StreamID is the publisher's participant
// ID, so a subscriber can tell whose media a track carries.
func (d *downTrack) ID() string { return d.t.id }

// RID is empty: a subscriber receives one layer at a time.
func (d *downTrack) RID() string { return "" }

// StreamID is the publishing participant's ID.
func (d *downTrack) StreamID() string { return d.t.owner.id }

// Kind is audio or video.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.t.kind }

// Bind is called by pion once the subscribe connection has negotiated the
// track: it learns the SSRC, payload type and extension IDs to write with.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var codec webrtc.RTPCodecParameters
	found := false
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.t.codec.MimeType) {
			codec, found = c, true
			break
		}
	}
	if !found {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber does not accept %s: %w",
			d.t.codec.MimeType, webrtc.ErrUnsupportedCodec)
	}
	d.mu.Lock()
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(codec.PayloadType)
	d.clock = codec.ClockRate
	d.levelID, d.twccID = 0, 0
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case uriAudioLevel:
			d.levelID = uint8(e.ID) //nolint:gosec // 1..14
		case uriTWCC:
			d.twccID = uint8(e.ID) //nolint:gosec // 1..14
		}
	}
	if d.p.room.sfu.cfg.DisableBandwidthEstimation {
		d.twccID = 0
	}
	d.hdr = rtp.Header{Version: 2, SSRC: d.ssrc, PayloadType: d.pt}
	d.bound = true
	d.started = false
	d.current = -1
	ssrc, pt := d.ssrc, d.pt
	d.mu.Unlock()
	d.rtxMu.Lock()
	d.rtxOut = rtp.Header{Version: 2, SSRC: ssrc, PayloadType: pt}
	d.rtxMu.Unlock()
	d.t.addDown(d)
	d.reselect() // layers may have appeared since subscribe
	d.requestKeyFrame(d.wantedLayer())
	return codec, nil
}

// Unbind stops writing to the subscriber.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.bound = false
	d.mu.Unlock()
	d.t.removeDown(d)
	return nil
}

// restart makes the down track wait for the next key frame before it
// forwards again, keeping its sequence numbering continuous.
func (d *downTrack) restart() {
	d.mu.Lock()
	d.current = -1
	d.mu.Unlock()
}

// reselect re-chooses the layer with the subscriber's current wish and
// estimate (after a layer appeared).
func (d *downTrack) reselect() {
	d.p.mu.Lock()
	want := d.p.wantLayer
	d.p.mu.Unlock()
	d.selectLayer(want, d.p.targetBitrate())
}

func (d *downTrack) wantedLayer() Layer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.target
}

// selectLayer chooses the simulcast layer to forward: the requested one,
// capped by what the bandwidth estimate (bits/s, 0 = unknown) says fits.
func (d *downTrack) selectLayer(want Layer, bitrate int) {
	if d.t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if o := Layer(d.override.Load()); o != noOverride {
		want = o
	}
	rates, present := d.t.layerBitrates()
	// The highest allowed layer that fits the estimate; if none fits, the
	// lowest present layer.
	best, lowest := Layer(-1), Layer(-1)
	for i := Layer(maxLayers - 1); i >= 0; i-- {
		if !present[i] || (want != LayerAuto && i > want) {
			continue
		}
		lowest = i
		if best < 0 && (bitrate <= 0 || rates[i] == 0 || rates[i] <= uint64(bitrate)) {
			best = i
		}
	}
	if best < 0 {
		best = lowest
	}
	if best < 0 {
		best = LayerLow
		if want != LayerAuto {
			best = want
		}
	}
	d.mu.Lock()
	changed := d.target != best
	d.target = best
	d.mu.Unlock()
	if changed {
		d.requestKeyFrame(best)
	}
}

// requestKeyFrame asks the publisher for a key frame on layer l for this
// subscriber, unless the subscribe connection is not up yet. Until then
// nothing can carry the frame, and the request would only use up the PLI
// throttle window (Config.PLIThrottle) in which the request made when the
// connection comes up (in newParticipant's state handler) then goes unsent:
// a new subscriber waited up to that window longer for its first frame.
func (d *downTrack) requestKeyFrame(l Layer) {
	if d.p.subReady.Load() {
		d.t.requestKeyFrame(l)
	}
}

// forward writes one packet if it belongs to the layer this subscriber
// receives. It reports whether it wrote and whether it waits for a key
// frame.
func (d *downTrack) forward(pk *packet) (sent, needKey bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound || !d.p.subReady.Load() {
		return false, false
	}
	h := pk.hdr
	if pk.layer != d.current {
		if pk.layer != d.target {
			return false, false
		}
		if !pk.key && d.t.kind == webrtc.RTPCodecTypeVideo {
			return false, true
		}
		d.switchTo(pk)
	}
	outSeq := h.SequenceNumber - d.seqOff
	outTS := h.Timestamp - d.tsOff
	if diff := int16(outSeq - d.lastSeq); diff > 0 || !d.started {
		d.lastSeq, d.lastTS, d.lastArrival, d.started = outSeq, outTS, pk.arrival, true
	}
	e := &d.seqMap[int(outSeq)&(len(d.seqMap)-1)]
	*e = seqEntry{valid: true, layer: pk.layer, outSeq: outSeq, inSeq: h.SequenceNumber, tsOff: d.tsOff}

	o := &d.hdr
	o.Marker = h.Marker
	o.Padding, o.PaddingSize = h.Padding, h.PaddingSize
	o.SequenceNumber, o.Timestamp = outSeq, outTS
	// Extensions are rebuilt in place (the backing array has room for both,
	// so SetExtension does not allocate), one-byte form (RFC 8285 §4.2).
	o.Extension, o.Extensions = false, d.exts[:0]
	if pk.level >= 0 && d.levelID != 0 {
		d.level[0] = byte(pk.level)
		_ = o.SetExtension(d.levelID, d.level[:])
	}
	if d.twccID != 0 {
		seq := uint16(d.p.twccSeq.Add(1))
		binary.BigEndian.PutUint16(d.twcc[:], seq)
		_ = o.SetExtension(d.twccID, d.twcc[:])
		// Departure time: the packet's arrival, shared by all subscribers;
		// only differences between one connection's packets matter.
		d.p.bwe.OnSent(seq, len(pk.payload)+o.MarshalSize(), pk.arrival.UnixNano())
	}
	if _, err := d.writer.WriteRTP(o, pk.payload); err != nil {
		d.p.room.sfu.metrics.writeErrors.Inc()
		return false, false
	}
	return true, false
}

// switchTo starts forwarding layer pk.layer at key frame pk. The offsets are
// chosen so that the first packet of the new layer follows the last packet
// sent directly: sequence number +1, timestamp advanced by the wall-clock
// time since that packet.
func (d *downTrack) switchTo(pk *packet) {
	h := pk.hdr
	if !d.started {
		d.seqOff, d.tsOff = 0, 0
	} else {
		elapsed := pk.arrival.Sub(d.lastArrival)
		delta := uint32(1)
		if elapsed > 0 {
			delta = max(1, uint32(uint64(elapsed)*uint64(d.clock)/uint64(time.Second)))
		}
		d.seqOff = h.SequenceNumber - (d.lastSeq + 1)
		d.tsOff = h.Timestamp - (d.lastTS + delta)
	}
	d.current = pk.layer
}

// rtcpLoop reads the subscriber's RTCP for this track: key-frame requests
// go (merged) to the publisher, NACKs are answered from the publisher-side
// cache, TWCC feedback feeds the connection's bandwidth estimator. Reading
// also feeds pion's interceptors (sender reports). Decoding allocates
// nothing (package rtcpx).
func (d *downTrack) rtcpLoop(sender *webrtc.RTPSender) {
	s := d.p.room.sfu
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		for b := buf[:n]; len(b) > 0; {
			pkt, kind, rest, err := rtcpx.Next(b)
			if err != nil {
				s.metrics.badPackets.Inc()
				break
			}
			b = rest
			switch kind {
			case rtcpx.KindPLI, rtcpx.KindFIR:
				s.metrics.plisIn.Inc()
				d.mu.Lock()
				l := d.current
				if l < 0 {
					l = d.target
				}
				d.mu.Unlock()
				d.t.requestKeyFrame(l)
			case rtcpx.KindNACK:
				rtcpx.ForEachNACK(pkt, d.retransmitNACKed)
			case rtcpx.KindTWCC:
				if e := d.p.bwe; e != nil {
					e.Begin()
					if err := rtcpx.ForEachTWCC(pkt, e.Packet); err != nil {
						s.metrics.badPackets.Inc()
					}
					e.End(s.cfg.Now().UnixNano())
				}
			}
		}
	}
}

func (d *downTrack) retransmitNACKed(seq uint16) {
	d.p.room.sfu.metrics.nacks.Inc()
	d.retransmit(seq)
}

// retransmit resends the packet the subscriber knows as outSeq, from the
// publisher-side cache, rewritten exactly as it was first sent (RFC 4585
// §6.2.1 NACK; no RTX stream, so the packet keeps its sequence number).
func (d *downTrack) retransmit(outSeq uint16) {
	m := d.p.room.sfu.metrics
	now := d.p.room.sfu.cfg.Now().UnixNano()
	d.mu.Lock()
	slot := &d.seqMap[int(outSeq)&(len(d.seqMap)-1)]
	e := *slot
	bound, w, twccID := d.bound, d.writer, d.twccID
	repeat := e.valid && e.outSeq == outSeq && now-e.rtxAt < int64(nackRepeatInterval)
	if !repeat && e.valid && e.outSeq == outSeq {
		slot.rtxAt = now
	}
	d.mu.Unlock()
	if !bound || !e.valid || e.outSeq != outSeq {
		m.nackMisses.Inc()
		return
	}
	if repeat {
		m.nackSuppressed.Inc() // asked again before the last copy could arrive
		return
	}
	l := d.t.layer(e.layer)
	if l == nil {
		m.nackMisses.Inc()
		return
	}
	d.rtxMu.Lock()
	defer d.rtxMu.Unlock()
	n, ok := l.cache.Get(e.inSeq, d.rtxBuf)
	if !ok {
		m.nackMisses.Inc()
		return
	}
	payload, err := parseRTP(d.rtxBuf[:n], &d.rtxIn)
	if err != nil {
		m.nackMisses.Inc()
		return
	}
	o := &d.rtxOut
	o.Padding, o.PaddingSize = d.rtxIn.Padding, d.rtxIn.PaddingSize
	o.Marker = d.rtxIn.Marker
	o.SequenceNumber = outSeq
	o.Timestamp = d.rtxIn.Timestamp - e.tsOff
	o.Extension, o.Extensions = false, d.rtxExts[:0]
	if twccID != 0 {
		seq := uint16(d.p.twccSeq.Add(1))
		binary.BigEndian.PutUint16(d.rtxTWCC[:], seq)
		_ = o.SetExtension(twccID, d.rtxTWCC[:])
		d.p.bwe.OnSent(seq, len(payload)+o.MarshalSize(), d.p.room.sfu.cfg.Now().UnixNano())
	}
	if _, err := w.WriteRTP(o, payload); err != nil {
		m.writeErrors.Inc()
		return
	}
	m.retransmits.Inc()
}
