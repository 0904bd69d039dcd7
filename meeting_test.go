package tresor

import (
	"context"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/signaling"
)

const frameInterval = 30 * time.Millisecond

// TestThreeClientsDecryptEachOther runs three clients through the real
// signaling server and SFU on loopback: they form one MLS group, agree on
// the security code, and every client decrypts every other client's audio
// and video, byte for byte.
func TestThreeClientsDecryptEachOther(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	ids := []string{"alice", "bob", "carol"}
	var cs []*client
	var ss []*sender
	for i, id := range ids {
		role := signaling.RoleParticipant
		if i == 0 {
			role = signaling.RoleHost
		}
		c := e.join(id, role)
		cs = append(cs, c)
		ss = append(ss, c.publish(ctx, frameInterval))
	}
	epoch, code := converged(t, 10*time.Second, cs...)
	if epoch != 2 {
		t.Errorf("epoch %d after two joins, want 2", epoch)
	}
	if len(code) != 47 {
		t.Errorf("security code %q", code)
	}
	eventually(t, 15*time.Second, "frames from everyone", func() bool {
		for _, rx := range cs {
			for _, tx := range ss {
				if rx.id == tx.id {
					continue
				}
				for _, kind := range []string{"audio", "video"} {
					if len(rx.received(tx.id, kind)) < 10 {
						return false
					}
				}
			}
		}
		return true
	})
	for _, rx := range cs {
		for _, tx := range ss {
			if rx.id != tx.id {
				checkFrames(t, rx, tx, "audio", 10)
				checkFrames(t, rx, tx, "video", 10)
			}
		}
		if st := rx.m.Stats(); st.AuthFailed+st.Replayed+st.Malformed != 0 {
			t.Errorf("%s rejected frames on an honest server: %+v", rx.id, st)
		}
	}
	// Rosters come from MLS: everyone sees the two others join.
	for _, c := range cs {
		joined := map[string]bool{}
		for _, ev := range eventsOf[*ParticipantJoined](c) {
			joined[ev.Member.Identity] = true
		}
		for _, id := range ids {
			if id != c.id && !joined[id] {
				t.Errorf("%s saw no ParticipantJoined for %s", c.id, id)
			}
		}
	}
	// Chat is an MLS application message, attributed by the group.
	if err := cs[1].m.SendChat(ctx, "hello from bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "chat delivered", func() bool {
		for _, c := range []*client{cs[0], cs[2]} {
			msgs := eventsOf[*ChatMessage](c)
			if len(msgs) == 0 || msgs[0].From.Identity != "bob" || msgs[0].Text != "hello from bob" {
				return false
			}
		}
		return true
	})
	for _, s := range ss {
		s.halt()
	}
}
