package keys_test

import (
	"fmt"
	"log"

	"github.com/tresor-dev/tresor/keys"
)

// Alice starts a meeting's group, Bob joins with a KeyPackage, and both
// derive the same SFrame keys and security code.
func Example() {
	alice, err := keys.NewIdentity(nil, "alice")
	if err != nil {
		log.Fatal(err)
	}
	bob, err := keys.NewIdentity(nil, "bob")
	if err != nil {
		log.Fatal(err)
	}
	ga, err := keys.NewGroup(alice, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Bob uploads a KeyPackage; Alice commits an Add.
	kp, err := keys.NewKeyPackage(bob, nil)
	if err != nil {
		log.Fatal(err)
	}
	c, err := ga.CreateCommit([][]byte{kp.Bytes()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// ... the delivery service accepts the Commit ...
	if err := ga.MergePendingCommit(); err != nil {
		log.Fatal(err)
	}
	gb, err := keys.Join(bob, kp, c.Welcome, nil)
	if err != nil {
		log.Fatal(err)
	}

	ka, _ := ga.SFrameKeys()
	kb, _ := gb.SFrameKeys()
	defer ka.Erase()
	defer kb.Erase()
	codeA, _ := ga.SecurityCode()
	codeB, _ := gb.SecurityCode()
	fmt.Println("epoch:", gb.Epoch(), "members:", len(gb.Members()))
	fmt.Println("bob's KID:", kb.Own.KID, "alice knows it:", ka.Members[1].KID == kb.Own.KID)
	fmt.Println("codes equal:", codeA == codeB)
	// Output:
	// epoch: 1 members: 2
	// bob's KID: 257 alice knows it: true
	// codes equal: true
}
