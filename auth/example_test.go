package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/tresor-dev/tresor/auth"
)

// A backend mints a join token for a participant it has authenticated; the
// signaling server verifies it with the backend's public key.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	token, err := auth.MintToken(priv, auth.Claims{
		Room: "standup", Identity: "u-42", Name: "Ada", Role: auth.RoleParticipant,
		Expiry: time.Now().Add(10 * time.Minute),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := auth.VerifyToken(token, []ed25519.PublicKey{pub}, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Room, c.Identity, c.Role)
	// Output: standup u-42 participant
}
