package peertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
)

// Client is a participant of an SFU: a publish and a subscribe peer wired
// to an *sfu.Participant through an in-memory Signaler.
type Client struct {
	Pub, Sub *Peer
	Part     *sfu.Participant
	Senders  []*Sender
	ready    chan struct{}

	mu           sync.Mutex
	subConnected time.Time
}

// SubConnectedAt is when the subscribe connection first connected (zero if
// it has not).
func (c *Client) SubConnectedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subConnected
}

// JoinSFU joins room as id. onTrack is called (on its own goroutine, as pion
// does) for every track the client receives.
func JoinSFU(ctx context.Context, s *sfu.SFU, api *webrtc.API, room, id string,
	onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver), opts ...sfu.JoinOption,
) (*Client, error) {
	pub, err := New(api)
	if err != nil {
		return nil, err
	}
	sub, err := New(api)
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	c := &Client{Pub: pub, Sub: sub, ready: make(chan struct{})}
	sub.PC.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if onTrack != nil {
			onTrack(t, r)
		}
	})
	sub.PC.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			c.mu.Lock()
			if c.subConnected.IsZero() {
				c.subConnected = time.Now()
			}
			c.mu.Unlock()
		}
	})
	for _, x := range []struct {
		p   *Peer
		dir sfu.Direction
	}{{pub, sfu.DirectionPublish}, {sub, sfu.DirectionSubscribe}} {
		dir := x.dir
		x.p.PC.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand == nil {
				return
			}
			<-c.ready
			if c.Part != nil {
				_ = c.Part.AddICECandidate(dir, cand.ToJSON())
			}
		})
	}
	c.Part, err = s.Join(ctx, room, id, c, opts...)
	close(c.ready)
	if err != nil {
		_ = pub.Close()
		_ = sub.Close()
		return nil, err
	}
	return c, nil
}

// SendOffer implements sfu.Signaler: it answers on the subscribe peer.
func (c *Client) SendOffer(ctx context.Context, offer webrtc.SessionDescription) error {
	<-c.ready
	ans, err := c.Sub.Answer(offer)
	if err != nil {
		return err
	}
	return c.Part.HandleSubscribeAnswer(ctx, ans)
}

// SendCandidate implements sfu.Signaler.
func (c *Client) SendCandidate(_ context.Context, dir sfu.Direction, cand webrtc.ICECandidateInit) error {
	switch dir {
	case sfu.DirectionPublish:
		return c.Pub.AddICECandidate(cand)
	case sfu.DirectionSubscribe:
		return c.Sub.AddICECandidate(cand)
	}
	return fmt.Errorf("peertest: unknown dir %v", dir)
}

// AddVideo adds a video track to the publish peer (call Publish after).
func (c *Client) AddVideo(trackID string, rids ...string) (*Sender, error) {
	s, err := AddVideo(c.Pub, trackID, c.Part.ID(), rids...)
	if err == nil {
		c.Senders = append(c.Senders, s)
	}
	return s, err
}

// AddAudio adds an audio track to the publish peer (call Publish after).
func (c *Client) AddAudio(trackID string) (*Sender, error) {
	s, err := AddAudio(c.Pub, trackID, c.Part.ID())
	if err == nil {
		c.Senders = append(c.Senders, s)
	}
	return s, err
}

// Publish negotiates the publish peer with the SFU and starts the senders.
func (c *Client) Publish(ctx context.Context) error {
	offer, err := c.Pub.Offer()
	if err != nil {
		return err
	}
	ans, err := c.Part.HandlePublishOffer(ctx, offer)
	if err != nil {
		return err
	}
	if err := c.Pub.SetRemoteDescription(ans); err != nil {
		return fmt.Errorf("peertest: set answer: %w", err)
	}
	for _, s := range c.Senders {
		var tr *webrtc.RTPTransceiver
		for _, t := range c.Pub.PC.GetTransceivers() {
			if t.Sender() == s.RTP {
				tr = t
			}
		}
		s.Start(tr)
	}
	return nil
}

// WaitConnected waits until every pc is connected.
func WaitConnected(ctx context.Context, pcs ...*webrtc.PeerConnection) error {
	for _, pc := range pcs {
		for pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			select {
			case <-ctx.Done():
				return fmt.Errorf("peertest: not connected: %w", ctx.Err())
			case <-afterPoll():
			}
		}
	}
	return nil
}

// Close leaves the SFU and closes both peers.
func (c *Client) Close() {
	if c.Part != nil {
		_ = c.Part.Close()
	}
	_ = c.Pub.Close()
	_ = c.Sub.Close()
}
