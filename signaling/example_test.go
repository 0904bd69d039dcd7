package signaling_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/signaling"
)

// A backend key signs join tokens; the server verifies them. A host joins
// and admits a guest from the waiting room.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	srv, _ := signaling.NewServer(signaling.Config{TokenKeys: []ed25519.PublicKey{pub}})
	_ = srv.CreateRoom("standup", signaling.RoomConfig{Passcode: "4711", WaitingRoom: true})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	token := func(id string, role signaling.Role) string {
		t, _ := auth.MintToken(priv, auth.Claims{Room: "standup", Identity: id, Name: id, Role: role, Expiry: time.Now().Add(time.Hour)})
		return t
	}
	host, _ := signaling.Dial(ctx, url, token("ada", signaling.RoleHost))
	defer host.Close()
	guest, err := signaling.Dial(ctx, url, token("bob", signaling.RoleParticipant), signaling.WithPasscode("4711"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer guest.Close()
	if w, ok := (<-guest.Events()).(signaling.Waiting); ok {
		fmt.Println("bob waits for:", w.Reason)
	}
	if err := host.Admit(ctx, "bob"); err != nil {
		fmt.Println(err)
		return
	}
	if j, ok := (<-guest.Events()).(signaling.Joined); ok {
		fmt.Println("bob joined, participants:", len(j.State.Participants))
	}
	// Output:
	// bob waits for: host
	// bob joined, participants: 2
}
