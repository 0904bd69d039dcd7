package loadtest

import (
	"fmt"
	"io"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu/internal/udpbatch"
)

type muxCloser struct {
	mux  ice.UDPMux
	conn net.PacketConn
}

func (m muxCloser) Close() error {
	err := m.mux.Close()
	_ = m.conn.Close()
	return err
}

// bareAPI is a pion API as the broadcast example builds it (default codecs
// and interceptors), with one UDP port for every connection as the SFU has.
// The port records receive times as the SFU's does (no write batching), so
// that both servers' added latency is measured alike.
func bareAPI() (*webrtc.API, *udpbatch.Conn, io.Closer, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, nil, nil, fmt.Errorf("loadtest: codecs: %w", err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithInterceptorLoggerFactory(lf)); err != nil {
		return nil, nil, nil, fmt.Errorf("loadtest: interceptors: %w", err)
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loadtest: listen: %w", err)
	}
	conn := udpbatch.NewUnbatched(udp)
	_ = conn.EnableRxTimestamps() // falls back to read time
	mux := webrtc.NewICEUDPMux(lf.NewLogger("ice"), conn)
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api, conn, muxCloser{mux: mux, conn: conn}, nil
}

func pliFor(t *webrtc.TrackRemote) []rtcp.Packet {
	return []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}}
}
