package sfumedia_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
)

// One process runs the SFU and the signaling server: participants' media
// signals reach the SFU, and hosts' permission and stop_track actions apply
// to their tracks.
func Example() {
	s, err := sfu.New(sfu.Config{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	backendKey, _, _ := ed25519.GenerateKey(rand.Reader) // the app backend's token key
	srv, err := signaling.NewServer(signaling.Config{
		TokenKeys: []ed25519.PublicKey{backendKey},
		Media:     sfumedia.New(s),
	})
	if err != nil {
		panic(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Close(ctx)
	}()
	if err := srv.CreateRoom("standup", signaling.RoomConfig{WaitingRoom: true}); err != nil {
		panic(err)
	}
	// Serve signaling (and the web client) over HTTP, e.g. with
	// http.ListenAndServe(":8080", mux).
	mux := http.NewServeMux()
	mux.Handle("/signal", srv)
	fmt.Println("media on", s.Addr().Network())
	// Output: media on udp
}
