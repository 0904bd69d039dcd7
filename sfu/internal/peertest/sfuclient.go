package peertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/trickle"
	"github.com/tresor-dev/tresor/sfu"
)

// Client is a participant of an SFU: a publish and a subscribe peer wired
// to an *sfu.Participant through an in-memory Signaler.
type Client struct {
	Pub, Sub *Peer
	Part     *sfu.Participant
	Senders  []*Sender
	ready    chan struct{}

	// TrickleOnly strips the candidates from every description the
	// client exchanges with the SFU, both ways, so that ICE depends on
	// trickled candidates alone, and makes each side's candidates
	// overtake the description of their ICE session (RFC 8838 allows
	// any order): the client sends its description once it has gathered
	// (all its candidates went first), and applies the SFU's once a
	// candidate of the SFU's new session arrived (or after a second). Set
	// it before the first offer.
	TrickleOnly bool

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
	c.overtaken(c.Sub, offer)
	if err := c.Sub.SetRemoteDescription(c.strip(offer)); err != nil {
		return fmt.Errorf("peertest: set offer: %w", err)
	}
	ans, err := c.Sub.PC.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("peertest: create answer: %w", err)
	}
	if err := c.Sub.PC.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("peertest: set answer: %w", err)
	}
	if err := c.gathered(ctx, c.Sub); err != nil {
		return err
	}
	return c.Part.HandleSubscribeAnswer(ctx, c.strip(*c.Sub.PC.LocalDescription()))
}

// overtaken, with TrickleOnly, waits (a second at most) for a candidate of
// remote description sd's ICE session to reach p before sd is applied.
func (c *Client) overtaken(p *Peer, sd webrtc.SessionDescription) {
	if c.TrickleOnly {
		p.WaitCandidate(trickle.DescriptionUfrag(sd.SDP), time.Second)
	}
}

// gathered, with TrickleOnly, waits until p has gathered (and so sent) its
// candidates, before its local description is sent.
func (c *Client) gathered(ctx context.Context, p *Peer) error {
	if !c.TrickleOnly {
		return nil
	}
	select {
	case <-webrtc.GatheringCompletePromise(p.PC):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("peertest: gathering: %w", ctx.Err())
	}
}

// strip removes the candidates from sd when TrickleOnly is set.
func (c *Client) strip(sd webrtc.SessionDescription) webrtc.SessionDescription {
	if !c.TrickleOnly {
		return sd
	}
	var b strings.Builder
	for line := range strings.Lines(sd.SDP) {
		if !strings.HasPrefix(line, "a=candidate:") && !strings.HasPrefix(line, "a=end-of-candidates") {
			b.WriteString(line)
		}
	}
	sd.SDP = b.String()
	return sd
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
	if err := c.negotiatePublish(ctx, nil); err != nil {
		return err
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

// RestartPublishICE renegotiates the publish peer with an ICE restart
// (RFC 8445 §9): new credentials and candidates on the same connection.
func (c *Client) RestartPublishICE(ctx context.Context) error {
	return c.negotiatePublish(ctx, &webrtc.OfferOptions{ICERestart: true})
}

func (c *Client) negotiatePublish(ctx context.Context, opts *webrtc.OfferOptions) error {
	offer, err := c.Pub.PC.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("peertest: create offer: %w", err)
	}
	if err := c.Pub.PC.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("peertest: set offer: %w", err)
	}
	if err := c.gathered(ctx, c.Pub); err != nil {
		return err
	}
	ans, err := c.Part.HandlePublishOffer(ctx, c.strip(*c.Pub.PC.LocalDescription()))
	if err != nil {
		return err
	}
	c.overtaken(c.Pub, ans)
	if err := c.Pub.SetRemoteDescription(c.strip(ans)); err != nil {
		return fmt.Errorf("peertest: set answer: %w", err)
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
