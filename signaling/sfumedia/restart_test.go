package sfumedia_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/signaling"
)

// TestRestartSignal: a "restart" signal for the subscribe connection makes
// the SFU offer an ICE restart there (new ICE credentials), and the
// subscriber's media keeps flowing on the same tracks once it answered.
func TestRestartSignal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := newStack(t, signaling.RoomConfig{})
	host := st.join("host", signaling.RoleHost)
	p := st.join("pub", signaling.RoleParticipant)
	tracks := []*sendTrack{p.addTrack("cam", true)}
	p.publish(ctx)
	stop := make(chan struct{})
	wg := pump(tracks, stop)
	defer func() { close(stop); wg.Wait() }()
	if _, err := host.pub.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	host.publish(ctx)
	eventually(t, 15*time.Second, "the camera at the subscriber", func() bool { return host.count("pub/cam") >= 10 })

	ufrag := func() string {
		if rd := host.sub.RemoteDescription(); rd != nil {
			return trickle.DescriptionUfrag(rd.SDP)
		}
		return ""
	}
	old := ufrag()
	if err := host.sig.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalRestart, Direction: signaling.DirectionSubscribe}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "an ICE-restart offer, answered and connected", func() bool {
		st := host.sub.ICEConnectionState()
		return ufrag() != old && (st == webrtc.ICEConnectionStateConnected || st == webrtc.ICEConnectionStateCompleted)
	})
	n := host.count("pub/cam")
	eventually(t, 10*time.Second, "the camera after the restart", func() bool { return host.count("pub/cam") >= n+20 })
}
