package sfu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// remoteUfrag is the ICE ufrag of pc's current remote description.
func remoteUfrag(pc *webrtc.PeerConnection) string {
	if rd := pc.RemoteDescription(); rd != nil {
		return trickle.DescriptionUfrag(rd.SDP)
	}
	return ""
}

func iceConnected(pc *webrtc.PeerConnection) bool {
	st := pc.ICEConnectionState()
	return st == webrtc.ICEConnectionStateConnected || st == webrtc.ICEConnectionStateCompleted
}

// TestICERestartKeepsTracksFlowing: an ICE restart (RFC 8445 §9) on the
// publisher's publish connection (its own offer with new credentials) and
// then on the subscriber's subscribe connection (RestartSubscribeICE: the
// SFU's offer) gives each connection a new ICE session, and the published
// video keeps reaching the subscriber on the same track: no track ends or
// is added, and packets flow after each restart. With trickle-only, the
// descriptions carry no candidates and each side's candidates of the new
// session overtake the description that starts it (as they may: pion
// gathers them as the offer is created, and the answerer's as it applies
// the offer), and the client drops the SFU's that do (as pion does
// without a gate that follows ICE sessions): unless the SFU holds the
// client's until the restart's description arrives, neither side knows a
// candidate of the other and ICE never connects again.
func TestICERestartKeepsTracksFlowing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		trickleOnly bool
	}{{"candidates in descriptions", false}, {"trickle only", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			s := newSFU(t, sfu.Config{})
			api := newAPI(t, peertest.Config{})
			got := newCollector()
			ended := make(chan struct{}, 1)
			sub, err := peertest.JoinSFU(ctx, s, api, "r", "sub", func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
				got.onTrack(tr, r) // returns when the track ends
				select {
				case ended <- struct{}{}:
				default:
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sub.Close)
			pub := join(t, ctx, s, api, "r", "pub", nil)
			for _, c := range []*peertest.Client{pub, sub} {
				c.TrickleOnly, c.Pub.DropOvertaking, c.Sub.DropOvertaking = tc.trickleOnly, tc.trickleOnly, tc.trickleOnly
			}
			cam, err := pub.AddVideo("cam")
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctx); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			wg := pump(t, cam, 0, 1, 600, 10*time.Millisecond, stop)
			defer func() { close(stop); wg.Wait() }()
			eventually(t, 10*time.Second, "the subscriber receiving", func() bool { return got.count() >= 20 })

			flows := func(what string) {
				t.Helper()
				n := got.count()
				eventually(t, 10*time.Second, "packets after "+what, func() bool { return got.count() >= n+50 })
			}
			restarted := func(what string, pc *webrtc.PeerConnection, old string) {
				t.Helper()
				eventually(t, 15*time.Second, what+": a new ICE session, connected", func() bool {
					u := remoteUfrag(pc)
					return u != "" && u != old && iceConnected(pc)
				})
				flows(what)
			}

			old := remoteUfrag(pub.Pub.PC)
			if err := pub.RestartPublishICE(ctx); err != nil {
				t.Fatal(err)
			}
			restarted("publish restart", pub.Pub.PC, old)

			old = remoteUfrag(sub.Sub.PC)
			if err := sub.Part.RestartSubscribeICE(); err != nil {
				t.Fatal(err)
			}
			restarted("subscribe restart", sub.Sub.PC, old)

			// Both once more, at the same time.
			oldPub, oldSub := remoteUfrag(pub.Pub.PC), remoteUfrag(sub.Sub.PC)
			if err := sub.Part.RestartSubscribeICE(); err != nil {
				t.Fatal(err)
			}
			if err := pub.RestartPublishICE(ctx); err != nil {
				t.Fatal(err)
			}
			restarted("both restarted", pub.Pub.PC, oldPub)
			restarted("both restarted", sub.Sub.PC, oldSub)

			got.mu.Lock()
			tracks, errs := len(got.tracks), got.errs
			got.mu.Unlock()
			if tracks != 1 {
				t.Errorf("the subscriber was given %d tracks, want the one", tracks)
			}
			select {
			case <-ended:
				t.Error("the subscriber's track ended")
			default:
			}
			for _, err := range errs {
				t.Errorf("payload: %v", err)
			}
		})
	}
}

// TestRestartSubscribeICEClosed: a closed participant refuses.
func TestRestartSubscribeICEClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	c := join(t, ctx, s, newAPI(t, peertest.Config{}), "r", "a", nil)
	if err := c.Part.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Part.RestartSubscribeICE(); !errors.Is(err, sfu.ErrClosed) {
		t.Fatalf("RestartSubscribeICE after Close: %v, want ErrClosed", err)
	}
}
