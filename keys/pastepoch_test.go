package keys

import (
	"errors"
	"testing"
)

// TestKeepPastEpoch: with KeepPastEpoch, a chat message sealed just before a
// Commit still reads after it, once, with the epoch it was sent in; a
// Commit of the previous epoch is still refused; ForgetPastEpoch erases the
// kept secrets. Without it (the default) the message is lost.
func TestKeepPastEpoch(t *testing.T) {
	for _, keep := range []bool{true, false} {
		cfg := &Config{KeepPastEpoch: keep}
		alice, bob := newIdentity(t, "alice"), newIdentity(t, "bob")
		ga, err := NewGroup(alice, cfg)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := NewKeyPackage(bob, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := add(t, ga, kp)
		gb, err := Join(bob, kp, c.Welcome, cfg)
		if err != nil {
			t.Fatal(err)
		}
		late, err := gb.Seal([]byte("sealed in epoch 1"))
		if err != nil {
			t.Fatal(err)
		}
		update := add(t, ga) // alice moves to epoch 2 before bob's chat arrives
		msg, err := ga.Process(late)
		if !keep {
			if !errors.Is(err, ErrWrongEpoch) {
				t.Fatalf("without KeepPastEpoch: %v, want ErrWrongEpoch", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("a chat message of the previous epoch: %v", err)
		}
		if string(msg.Data) != "sealed in epoch 1" || msg.Epoch != 1 || msg.Sender.Identity != "bob" || msg.Kind != KindApplication {
			t.Fatalf("read %+v", msg)
		}
		if _, err := ga.Process(late); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("the replay: %v, want ErrAuthentication", err)
		}
		// Bob's own (stale) Commit of epoch 1 is refused.
		stale, err := gb.CreateCommit(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ga.Process(stale.Message); !errors.Is(err, ErrWrongEpoch) {
			t.Fatalf("a Commit of the previous epoch: %v, want ErrWrongEpoch", err)
		}
		gb.ClearPendingCommit()
		mustProcess(t, gb, update.Message)
		late2, err := gb.Seal([]byte("sealed in epoch 2"))
		if err != nil {
			t.Fatal(err)
		}
		add(t, ga)
		ga.ForgetPastEpoch()
		if _, err := ga.Process(late2); !errors.Is(err, ErrWrongEpoch) {
			t.Fatalf("after ForgetPastEpoch: %v, want ErrWrongEpoch", err)
		}
	}
}
