package keyring

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/keys"
)

// installKeys turns a group's SFrame keys into the driver's output, with
// the identities names gives the leaves.
func installKeys(t testing.TB, g *keys.Group, names map[uint32]string) *core.InstallKeys {
	t.Helper()
	ek, err := g.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}
	defer ek.Erase()
	k := &core.InstallKeys{Epoch: ek.Epoch}
	for _, m := range ek.Members {
		sk := core.SFrameKey{Identity: names[m.Leaf], Leaf: m.Leaf, KID: m.KID, BaseKey: bytes.Clone(m.BaseKey)}
		k.Members = append(k.Members, sk)
		if m.Leaf == ek.Own.Leaf {
			k.Own = core.SFrameKey{Identity: sk.Identity, Leaf: sk.Leaf, KID: sk.KID, BaseKey: bytes.Clone(m.BaseKey)}
		}
	}
	return k
}

// TestKeyRingGraceWindow: after a new epoch is installed the previous
// epoch's keys still open frames until expire, then no longer; the sender
// uses the new epoch's key at once.
func TestKeyRingGraceWindow(t *testing.T) {
	alice, err := keys.NewIdentity(nil, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := keys.NewIdentity(nil, "bob")
	if err != nil {
		t.Fatal(err)
	}
	ga, err := keys.NewGroup(alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := keys.NewKeyPackage(bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ga.CreateCommit([][]byte{kp.Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ga.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	gb, err := keys.Join(bob, kp, c.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[uint32]string{ga.Self().Leaf: "alice", gb.Self().Leaf: "bob"}

	// Bob's ring receives; alice's sender sends.
	rx, err := New(e2ee.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := New(e2ee.Config{})
	if err != nil {
		t.Fatal(err)
	}
	install := func(r *Ring, g *keys.Group) {
		if err := r.Install(installKeys(t, g, names)); err != nil {
			t.Fatal(err)
		}
	}
	install(rx, gb)
	install(tx, ga)
	frame := []byte{0x78, 1, 2, 3, 4, 5}
	old, err := tx.Sender().EncryptFrame(nil, e2ee.CodecOpus, frame)
	if err != nil {
		t.Fatal(err)
	}

	// Epoch 2: bob commits an Update, alice processes it.
	c2, err := gb.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gb.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if _, err := ga.Process(c2.Message); err != nil {
		t.Fatal(err)
	}
	install(rx, gb)
	install(tx, ga)
	if e, _ := tx.SendingEpoch(); e != 2 {
		t.Fatalf("sender at epoch %d, want 2", e)
	}
	cur, err := tx.Sender().EncryptFrame(nil, e2ee.CodecOpus, frame)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rx.Peer("alice")
	if err != nil {
		t.Fatal(err)
	}
	kidOld, _ := e2ee.FrameKID(e2ee.CodecOpus, old)
	kidCur, _ := e2ee.FrameKID(e2ee.CodecOpus, cur)
	if kidOld == kidCur {
		t.Fatal("same KID in two epochs")
	}
	if _, err := p.Receiver.DecryptFrame(nil, e2ee.CodecOpus, cur); err != nil {
		t.Fatalf("current epoch: %v", err)
	}
	if _, err := p.Receiver.DecryptFrame(nil, e2ee.CodecOpus, old); err != nil {
		t.Fatalf("previous epoch within the grace window: %v", err)
	}
	rx.Expire(2)
	old2, err := tx.Sender().EncryptFrame(nil, e2ee.CodecOpus, frame)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Receiver.DecryptFrame(nil, e2ee.CodecOpus, old2); err != nil {
		t.Fatalf("current epoch after expiry: %v", err)
	}
	// A fresh copy of the old frame's epoch: re-seal is impossible (the
	// sender moved on), so replay the recorded one: its key is gone.
	if _, err := p.Receiver.DecryptFrame(nil, e2ee.CodecOpus, old); !errors.Is(err, e2ee.ErrUnknownKey) {
		t.Fatalf("previous epoch after the grace window: %v, want ErrUnknownKey", err)
	}
	rx.EraseAll()
	if _, err := p.Receiver.DecryptFrame(nil, e2ee.CodecOpus, old2); !errors.Is(err, e2ee.ErrUnknownKey) {
		t.Fatalf("after EraseAll: %v", err)
	}
}

// TestBoundToIdentity: a frame opens only under its sender's identity. With
// one base key per epoch for every sender (RFC 9605 §5.2), what separates
// them is the KID; a ring that filed keys by KID alone would let a server
// show alice's frames as carol's.
func TestBoundToIdentity(t *testing.T) {
	var ids []*keys.Identity
	for _, n := range []string{"alice", "bob", "carol"} {
		id, err := keys.NewIdentity(nil, n)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ga, err := keys.NewGroup(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	var kps [][]byte
	var kpb *keys.KeyPackage
	for _, id := range ids[1:] {
		kp, err := keys.NewKeyPackage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if kpb == nil {
			kpb = kp
		}
		kps = append(kps, kp.Bytes())
	}
	c, err := ga.CreateCommit(kps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ga.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	gb, err := keys.Join(ids[1], kpb, c.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[uint32]string{0: "alice", 1: "bob", 2: "carol"}
	tx, _ := New(e2ee.Config{})
	rx, _ := New(e2ee.Config{})
	if err := tx.Install(installKeys(t, ga, names)); err != nil {
		t.Fatal(err)
	}
	if err := rx.Install(installKeys(t, gb, names)); err != nil {
		t.Fatal(err)
	}
	f, err := tx.Sender().EncryptFrame(nil, e2ee.CodecOpus, []byte{0x78, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := rx.Peer("alice")
	carol, _ := rx.Peer("carol")
	if _, err := carol.Receiver.DecryptFrame(nil, e2ee.CodecOpus, f); !errors.Is(err, e2ee.ErrUnknownKey) {
		t.Fatalf("alice's frame as carol's: %v, want ErrUnknownKey", err)
	}
	if _, err := alice.Receiver.DecryptFrame(nil, e2ee.CodecOpus, f); err != nil {
		t.Fatalf("alice's frame as alice's: %v", err)
	}
	if n := rx.ReceiveKeys(); n != 2 {
		t.Fatalf("%d receive keys, want 2 (alice's and carol's)", n)
	}
}
