package tresor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/signaling"
)

// TestMeetingSurvivesCuts: in a meeting of four, the signaling connections
// are cut (no close frame, as a network failure does) at random moments —
// idle, while chat is sent, while a Commit or a Welcome is in flight —
// while a fifth participant joins and everyone chats. Every client resumes
// by itself: all end in the same epoch with the same security code, every
// chat message arrives exactly once at every other member, and media flows
// both ways.
func TestMeetingSurvivesCuts(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	ids := []string{"alice", "bob", "carol", "dave"}
	var cs []*client
	for i, id := range ids {
		role := signaling.RoleParticipant
		if i == 0 {
			role = signaling.RoleHost
		}
		cs = append(cs, h.join(id, role, WithRekeyInterval(700*time.Millisecond)))
	}
	converged(t, 15*time.Second, cs...)
	sa := cs[0].publish(ctx, frameInterval)
	sd := cs[3].publish(ctx, frameInterval)

	rng := rand.New(rand.NewPCG(1, 2))
	sent := map[string][]string{}
	cut := 0
	var erin *client
	for round := range 12 {
		// A cut now and then, at a random client, at a random moment of
		// what follows.
		victim := ids[rng.IntN(len(ids))]
		go func(d time.Duration) {
			time.Sleep(d)
			h.proxy.Cut(victim)
		}(time.Duration(rng.IntN(40)) * time.Millisecond)
		cut++
		if round == 5 {
			erin = h.join("erin", signaling.RoleParticipant, WithRekeyInterval(700*time.Millisecond))
		}
		for i, c := range cs {
			msg := fmt.Sprintf("%s-%d", ids[i], round)
			if err := c.m.SendChat(ctx, msg); err != nil {
				t.Fatalf("%s: %v", c.id, err)
			}
			sent[ids[i]] = append(sent[ids[i]], msg)
		}
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
	}
	all := append(slices.Clone(cs), erin)
	epoch, code := convergedN(t, 30*time.Second, 5, all...)
	// Chat: each member got every other original member's messages once,
	// in order (those sent while it was a member: all of them for the
	// four).
	missing := func() []string {
		var out []string
		for i, rx := range cs {
			for j, from := range ids {
				if i == j {
					continue
				}
				got := map[string]bool{}
				for _, m := range eventsOf[*ChatMessage](rx) {
					if m.From.Identity == from {
						got[m.Text] = true
					}
				}
				for _, m := range sent[from] {
					if !got[m] {
						out = append(out, rx.id+"<-"+m)
					}
				}
			}
		}
		return out
	}
	defer func() {
		if t.Failed() {
			t.Logf("missing: %v", missing())
		}
	}()
	eventually(t, 20*time.Second, "every chat message", func() bool {
		for i, rx := range cs {
			for j, from := range ids {
				if i == j {
					continue
				}
				var got []string
				for _, m := range eventsOf[*ChatMessage](rx) {
					if m.From.Identity == from {
						got = append(got, m.Text)
					}
				}
				if len(got) < len(sent[from]) {
					return false
				}
			}
		}
		return true
	})
	for i, rx := range cs {
		for j, from := range ids {
			if i == j {
				continue
			}
			var got []string
			for _, m := range eventsOf[*ChatMessage](rx) {
				if m.From.Identity == from {
					got = append(got, m.Text)
				}
			}
			if !slices.Equal(got, sent[from]) {
				t.Fatalf("%s got %s's chat %v, want %v", rx.id, from, got, sent[from])
			}
		}
	}
	// Media both ways in the final epoch.
	waitEpochFrames(t, 20*time.Second, epoch, []*client{cs[0], cs[3]}, []*sender{sa, sd})
	sa.halt()
	sd.halt()
	reconnects := 0
	for _, c := range all {
		reconnects += len(eventsOf[*Reconnected](c))
		if len(eventsOf[*Closed](c)) != 0 {
			t.Fatalf("%s's meeting ended", c.id)
		}
	}
	if reconnects == 0 {
		t.Fatal("no client reconnected: the cuts did not happen")
	}
	t.Logf("%d cuts, %d resumes; all at epoch %d, code %s…", cut, reconnects, epoch, code[:11])
}
