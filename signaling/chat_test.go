package signaling

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// countChats counts the chat messages c receives within d.
func countChats(t *testing.T, c *Client, d time.Duration) int {
	t.Helper()
	n := 0
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return n
			}
			if _, is := ev.(ChatReceived); is {
				n++
			}
		case <-timeout:
			return n
		}
	}
}

// TestChatLimited: chat, which the server relays to everyone, has a size
// limit and a per-sender budget; over them the sender gets an error and
// nothing is relayed. Default configuration with a stopped clock, so that
// it runs against any server version: without the limits, 256 KiB
// messages at the connection's full message rate reach everyone.
func TestChatLimited(t *testing.T) {
	now := time.Now()
	e := newEnv(t, Config{Now: func() time.Time { return now }})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	b := e.dial("r", "b", RoleHost)
	waitRoster(t, a, "a", "b")
	wantCode(t, a.SendChat(ctx(t), 0, make([]byte, 20<<10)), CodeTooLarge)
	ok, limited := 0, 0
	for range 30 {
		err := a.SendChat(ctx(t), 0, []byte("spam"))
		var se *Error
		switch {
		case err == nil:
			ok++
		case asError(err, &se) && se.Code == CodeRateLimited:
			limited++
		default:
			t.Fatal(err)
		}
	}
	if ok != 20 || limited != 10 {
		t.Fatalf("%d chats relayed, %d rate limited; want 20 and 10", ok, limited)
	}
	if n := countChats(t, b, 200*time.Millisecond); n != ok {
		t.Fatalf("receiver got %d chats, want %d", n, ok)
	}
	// The other participant's budget is its own.
	if err := b.SendChat(ctx(t), 0, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// Time refills the budget: 5 messages a second.
	now = now.Add(time.Second)
	for range 5 {
		if err := a.SendChat(ctx(t), 0, []byte("later")); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, a.SendChat(ctx(t), 0, []byte("too soon")), CodeRateLimited)
}

func TestChatBudgets(t *testing.T) {
	now := time.Now()
	e := newEnv(t, Config{
		Now:              func() time.Time { return now },
		MaxStrikes:       3,
		MaxChatSize:      1000,
		ChatRate:         Rate{Per: 1, Burst: 4},
		ChatByteRate:     Rate{Per: 1, Burst: 2500},
		RoomChatRate:     Rate{Per: 1, Burst: 6},
		RoomChatByteRate: Rate{Per: 1, Burst: 1e6},
	})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	b := e.dial("r", "b", RoleHost)
	r := e.dial("r", "r", RoleHost)
	waitRoster(t, r, "a", "b", "r")
	c := ctx(t)
	// Bytes per sender: 2500 at once.
	wantCode(t, a.SendChat(c, 0, make([]byte, 1001)), CodeTooLarge)
	for range 2 {
		if err := a.SendChat(c, 0, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, a.SendChat(c, 0, make([]byte, 1000)), CodeRateLimited)
	if err := a.SendChat(c, 0, make([]byte, 400)); err != nil {
		t.Fatal(err)
	}
	// Messages per room: 6 at once, of which a has spent 3. b may send 3,
	// then the room is busy: b is told so, without strikes (MaxStrikes
	// is 3, b is refused 5 times and stays connected).
	for range 3 {
		if err := b.SendChat(c, 0, []byte("b")); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		wantCode(t, b.SendChat(c, 0, []byte("b")), CodeRateLimited)
	}
	if n := countChats(t, r, 200*time.Millisecond); n != 6 {
		t.Fatalf("receiver got %d chats, want 6", n)
	}
	now = now.Add(2 * time.Second) // two more for the room, and for a and b
	if err := b.SendChat(c, 0, []byte("b")); err != nil {
		t.Fatalf("b after the room's budget refilled: %v", err)
	}
	// a exceeding its own budget (its bytes: about 100 left) is a strike
	// each time: 3 and it is out.
	for range 3 {
		a.SendChat(c, 0, make([]byte, 1000))
	}
	waitClosed(t, a)
	if st := e.srv.Stats(); st.Disconnected["too_many_errors"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Budgets that cannot hold a message of the maximum size are refused.
	for _, cfg := range []Config{
		{MaxChatSize: 100 << 10},
		{MaxChatSize: 1000, ChatByteRate: Rate{Per: 1, Burst: 999}},
		{MaxChatSize: 1000, RoomChatByteRate: Rate{Per: 1, Burst: 999}},
	} {
		if cfg.MaxChatSize == 100<<10 {
			cfg.ChatByteRate = Rate{Per: 1, Burst: 64 << 10}
		}
		cfg.TokenKeys = []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)}
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}
