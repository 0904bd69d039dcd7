package sfu_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tresor-dev/tresor/sfu"
)

// wsSignaler stands for the signaling layer's per-participant connection.
type wsSignaler struct {
	send func(kind string, v any) error
}

func (w wsSignaler) SendOffer(_ context.Context, offer webrtc.SessionDescription) error {
	return w.send("subscribe-offer", offer)
}

func (w wsSignaler) SendCandidate(_ context.Context, dir sfu.Direction, c webrtc.ICECandidateInit) error {
	return w.send(dir.String()+"-candidate", c)
}

// Example shows how a signaling server drives the SFU for one participant.
func Example() {
	reg := prometheus.NewRegistry()
	s, err := sfu.New(sfu.Config{
		UDPAddr:    "127.0.0.1:0", // one UDP port for every peer; ":7882" + NAT1To1IPs in production
		Registerer: reg,
		Logger:     slog.New(slog.DiscardHandler), // the server's logger
		OnEvent: func(e sfu.Event) {
			if e.Type == sfu.EventActiveSpeakers {
				fmt.Println("speakers:", e.Speakers)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ctx := context.Background()
	sig := wsSignaler{send: func(string, any) error { return nil }}
	// A guest may use camera and microphone but not share a screen.
	p, err := s.Join(ctx, "room-1", "alice", sig,
		sfu.WithPublishSources(sfu.SourceSet(sfu.SourceCamera, sfu.SourceMicrophone)))
	if err != nil {
		panic(err)
	}
	// When alice's client sends its publish offer, declaring track sources:
	//   p.DeclareSource("screen-track-id", sfu.SourceScreen)
	//   answer, err := p.HandlePublishOffer(ctx, offer)
	// When it answers the SFU's subscribe offer:
	//   err := p.HandleSubscribeAnswer(ctx, answer)
	// For each trickled candidate:
	//   err := p.AddICECandidate(sfu.DirectionPublish, candidate)
	fmt.Println(p.ID(), "joined")
	_ = p.Close()
	// Output: alice joined
}
