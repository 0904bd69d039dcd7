package schedule_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
)

// Example walks one epoch through the key schedule, erasing each stage as
// soon as the next one exists.
func Example() {
	s, err := suite.ByID(suite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		log.Fatal(err)
	}
	// A new group starts from a random init_secret.
	init, err := schedule.GenerateInitSecret(s, rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	groupContext := []byte("the encoded GroupContext of the new epoch (wire.GroupContext)")

	// A Commit without an UpdatePath has commit_secret = 0 (nil here).
	joiner, err := init.Joiner(nil, groupContext)
	if err != nil {
		log.Fatal(err)
	}
	init.Erase()
	psk, err := schedule.ComputePSKSecret(s, nil) // no PreSharedKey proposals
	if err != nil {
		log.Fatal(err)
	}
	epochSecret, err := joiner.EpochSecret(psk, groupContext)
	if err != nil {
		log.Fatal(err)
	}
	joiner.Erase()
	epoch, err := epochSecret.Derive()
	if err != nil {
		log.Fatal(err)
	}
	epochSecret.Erase()
	defer epoch.Erase()

	// MLS-Exporter, as SFrame uses it (RFC 9605 §5.2).
	key, err := epoch.Export("SFrame 1.0 Base Key", nil, uint16(s.Nh()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(key), "byte exported secret;", epoch.Membership)
	// Output: 32 byte exported secret; schedule.MembershipKey(REDACTED)
}
