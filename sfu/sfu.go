package sfu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tresor-dev/tresor/sfu/internal/udpbatch"
)

// ErrClosed is returned by operations on a closed SFU, room or participant.
var ErrClosed = errors.New("sfu: closed")

// ErrDuplicateParticipant is returned by Join when the participant ID is
// already in the room.
var ErrDuplicateParticipant = errors.New("sfu: participant already in room")

// SFU is a selective forwarding unit. Create it with New; it is safe for
// concurrent use.
type SFU struct {
	cfg     Config
	metrics *metrics
	gath    prometheus.Gatherer
	conn    net.PacketConn
	batch   *udpbatch.Conn // nil when writes are not batched
	mux     ice.UDPMux
	setting webrtc.SettingEngine
	pubAPI  *webrtc.API

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
}

// New starts an SFU: it opens the shared UDP port and registers metrics.
func New(cfg Config) (*SFU, error) {
	cfg = cfg.withDefaults()
	s := &SFU{cfg: cfg, rooms: make(map[string]*Room)}

	reg := cfg.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, s.gath = r, r
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("sfu: register metrics: %w", err)
	}
	s.metrics = m

	conn := cfg.UDPConn
	if conn == nil {
		if cfg.Net != nil {
			conn, err = cfg.Net.ListenPacket("udp4", cfg.UDPAddr)
		} else {
			conn, err = net.ListenPacket("udp4", cfg.UDPAddr)
		}
		if err != nil {
			return nil, fmt.Errorf("sfu: listen %s: %w", cfg.UDPAddr, err)
		}
		if u, ok := conn.(*net.UDPConn); ok && !cfg.DisableWriteBatching {
			s.batch = udpbatch.New(u)
			conn = s.batch
			if err := s.batch.EnableRxTimestamps(); err != nil {
				cfg.Logger.Debug("sfu: receive timestamps at read time", "err", err)
			}
		}
	}
	s.conn = conn
	if s.batch != nil {
		b := s.batch
		for _, c := range []prometheus.Collector{
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "tresor", Subsystem: "sfu",
				Name: "batched_datagrams_total", Help: "Datagrams sent through sendmmsg batches."},
				func() float64 { return float64(b.Datagrams.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "tresor", Subsystem: "sfu",
				Name: "write_batches_total", Help: "sendmmsg batches sent."},
				func() float64 { return float64(b.Batches.Load()) }),
		} {
			if err := reg.Register(c); err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("sfu: register metrics: %w", err)
			}
		}
	}
	lf := pionLogs{l: cfg.Logger}
	s.mux = webrtc.NewICEUDPMux(lf.NewLogger("ice"), conn)

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(s.mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A packet recovered by NACK arrives one or more round trips late: at
	// video rates that can be well over pion's default 64-packet SRTP replay
	// window, which would then discard it. RFC 3711 §3.3.2 lets the window
	// be larger than 64.
	se.SetSRTPReplayProtectionWindow(srtpReplayWindow)
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	if len(cfg.NAT1To1IPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.NAT1To1IPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("sfu: NAT 1:1 IPs: %w", err)
		}
	}
	s.setting = se

	me, err := newMediaEngine()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := pubInterceptors(ir, lf); err != nil {
		_ = conn.Close()
		return nil, err
	}
	s.pubAPI = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return s, nil
}

// Gatherer returns the registry holding the SFU's metrics when Config.Registerer
// was nil, and nil otherwise.
func (s *SFU) Gatherer() prometheus.Gatherer { return s.gath }

// Addr is the local address of the shared UDP port.
func (s *SFU) Addr() net.Addr { return s.conn.LocalAddr() }

// Room returns the room with the given ID, creating it if needed.
func (s *SFU) Room(id string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.rooms[id]
	if !ok {
		r = newRoom(s, id)
		s.rooms[id] = r
		s.metrics.rooms.Inc()
	}
	return r, nil
}

// Join adds participant id to room (creating the room if needed) and returns
// its handle. The SFU talks back to the participant only through sig.
func (s *SFU) Join(ctx context.Context, room, id string, sig Signaler, opts ...JoinOption) (*Participant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		r, err := s.Room(room)
		if err != nil {
			return nil, err
		}
		p, err := r.join(ctx, id, sig, opts)
		if errors.Is(err, errRoomClosed) {
			continue // the room emptied and closed meanwhile: open a new one
		}
		return p, err
	}
}

func (s *SFU) roomEmpty(r *Room) {
	s.mu.Lock()
	gone := s.rooms[r.id] == r && r.closeIfEmpty()
	if gone {
		delete(s.rooms, r.id)
		s.metrics.rooms.Dec()
	}
	s.mu.Unlock()
	if gone {
		r.stopSpeakerLoop() // outside s.mu: an OnEvent callback may call into the SFU
	}
}

// Close removes every participant and closes the UDP port.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.closeAll()
	}
	err := s.mux.Close()
	if cerr := s.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

func (s *SFU) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// srtpReplayWindow is the SRTP replay window in packets.
const srtpReplayWindow = 1024

// Header extension URIs the SFU negotiates.
const (
	uriAudioLevel = sdp.AudioLevelURI      // RFC 6464
	uriTWCC       = sdp.TransportCCURI     // draft-holmer-rmcat-transport-wide-cc-extensions-01
	uriMID        = sdp.SDESMidURI         // RFC 8843 §15
	uriRID        = sdp.SDESRTPStreamIDURI // RFC 8852 §3.1
	uriRRID       = sdp.SDESRepairRTPStreamIDURI
)

// newMediaEngine registers the codecs Tresor supports (VP8, Opus) and the
// header extensions the SFU reads or rewrites. RTX is not negotiated: lost
// packets are retransmitted on the media SSRC (RFC 4588 is not needed for a
// cache that answers NACKs itself).
func newMediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBNACK}, {Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"}, {Type: webrtc.TypeRTCPFBTransportCC},
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("sfu: register VP8: %w", err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("sfu: register Opus: %w", err)
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{uriAudioLevel, webrtc.RTPCodecTypeAudio},
		{uriTWCC, webrtc.RTPCodecTypeAudio}, {uriTWCC, webrtc.RTPCodecTypeVideo},
		{uriMID, webrtc.RTPCodecTypeAudio}, {uriMID, webrtc.RTPCodecTypeVideo},
		{uriRID, webrtc.RTPCodecTypeVideo}, {uriRRID, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("sfu: register header extension %s: %w", e.uri, err)
		}
	}
	return me, nil
}

// pubInterceptors are the interceptors of publisher connections: NACK
// generation towards the publisher (RFC 4585 §6.2.1), receiver reports
// (RFC 3550 §6.4.2) and TWCC feedback so the publisher's own congestion
// control works.
func pubInterceptors(ir *interceptor.Registry, lf pionLogs) error {
	gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(lf))
	if err != nil {
		return fmt.Errorf("sfu: nack generator: %w", err)
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(lf))
	if err != nil {
		return fmt.Errorf("sfu: receiver reports: %w", err)
	}
	ir.Add(rr)
	tw, err := twcc.NewSenderInterceptor(twcc.WithLoggerFactory(lf))
	if err != nil {
		return fmt.Errorf("sfu: twcc feedback: %w", err)
	}
	ir.Add(tw)
	return nil
}
