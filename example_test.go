package tresor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
)

// loopback is a pion API restricted to 127.0.0.1, so the example runs
// without a network.
func loopback() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// Two people meet through an in-process server (signaling and SFU on
// loopback). They join, compare security codes, and Ada's camera frames
// reach Bob decrypted, exactly as she wrote them, although the server only
// ever forwarded SFrame ciphertext.
func ExampleJoin() {
	// The server side: an SFU, and the signaling server driving it.
	s, _ := sfu.New(sfu.Config{})
	defer s.Close()
	backendPub, backendKey, _ := ed25519.GenerateKey(rand.Reader)
	srv, _ := signaling.NewServer(signaling.Config{TokenKeys: []ed25519.PublicKey{backendPub}, Media: sfumedia.New(s)})
	defer srv.Close(context.Background())
	_ = srv.CreateRoom("standup", signaling.RoomConfig{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	token := func(id string, role signaling.Role) string { // the app backend's job
		t, _ := auth.MintToken(backendKey, auth.Claims{Room: "standup", Identity: id, Name: id, Role: role, Expiry: time.Now().Add(time.Hour)})
		return t
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ada, err := tresor.Join(ctx, url, token("ada", signaling.RoleHost), tresor.WithWebRTCAPI(loopback()))
	if err != nil {
		log.Fatal(err)
	}
	defer ada.Close()
	bob, err := tresor.Join(ctx, url, token("bob", signaling.RoleParticipant), tresor.WithWebRTCAPI(loopback()))
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	// Bob's events: wait for the group with both, and Ada's camera track.
	tracks := make(chan *tresor.RemoteTrack, 1)
	codes := make(chan string, 4)
	go func() {
		for ev := range bob.Events() {
			switch ev := ev.(type) {
			case *tresor.EpochChanged:
				if len(ev.Members) == 2 {
					codes <- ev.SecurityCode
				}
			case *tresor.TrackAdded:
				tracks <- ev.Track
			}
		}
	}()
	// Ada's events: her view of the same epoch (she may apply her own
	// Commit a moment after Bob applies the Welcome).
	adaCodes := make(chan string, 4)
	go func() {
		for ev := range ada.Events() {
			if ev, ok := ev.(*tresor.EpochChanged); ok && len(ev.Members) == 2 {
				adaCodes <- ev.SecurityCode
			}
		}
	}()
	bobCode, adaCode := <-codes, <-adaCodes
	fmt.Println("same security code:", adaCode == bobCode)

	cam, err := ada.Publish(ctx, signaling.SourceCamera)
	if err != nil {
		log.Fatal(err)
	}
	// A VP8 key frame (its first 10 bytes stay clear for the SFU); real
	// applications write encoder output.
	frame := append([]byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, "hello, Bob"...)
	go func() {
		for ctx.Err() == nil {
			_ = cam.WriteSample(media.Sample{Data: frame, Duration: 33 * time.Millisecond})
			time.Sleep(33 * time.Millisecond)
		}
	}()
	t := <-tracks
	f, err := t.ReadFrame(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s's %s: %q\n", t.Participant(), t.Kind(), f.Data[10:])
	// Output:
	// same security code: true
	// ada's video: "hello, Bob"
}

// Reading the security code: show it whenever the epoch changes, and tell
// the user when the server's view and the group's disagree.
func ExampleMeeting_SecurityCode() {
	ctx := context.Background()
	m, err := tresor.Join(ctx, "wss://meet.example.com/signal", "tj1.…")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for ev := range m.Events() {
		switch ev := ev.(type) {
		case *tresor.EpochChanged:
			fmt.Printf("epoch %d, %d members: compare %s out loud\n", ev.Epoch, len(ev.Members), ev.SecurityCode)
		case *tresor.Mismatch:
			fmt.Printf("the server and the group disagree (%v): compare security codes now\n", ev.Kind)
		case *tresor.Closed:
			return
		}
	}
}

// Publishing: a camera and a microphone; frames are encrypted with the
// current epoch's key before they leave the process.
func ExampleMeeting_Publish() {
	ctx := context.Background()
	m, err := tresor.Join(ctx, "wss://meet.example.com/signal", "tj1.…")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	cam, err := m.Publish(ctx, signaling.SourceCamera) // VP8
	if err != nil {
		log.Fatal(err)
	}
	mic, err := m.Publish(ctx, signaling.SourceMicrophone) // Opus
	if err != nil {
		log.Fatal(err)
	}
	var vp8Frame, opusPacket []byte // from your encoders
	_ = cam.WriteSample(media.Sample{Data: vp8Frame, Duration: time.Second / 30})
	_ = mic.WriteSample(media.Sample{Data: opusPacket, Duration: 20 * time.Millisecond})
}
