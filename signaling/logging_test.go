package signaling

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretsInLogs runs joins with right and wrong passcodes and tokens
// at debug level and checks that no passcode or token reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, Config{Logger: log})
	e.room("r", RoomConfig{Passcode: "hunter2-secret", WaitingRoom: true})
	h := e.dial("r", "h", RoleHost)
	_, err := e.dialErr("r", "p", RoleParticipant, WithPasscode("guess-secret"))
	wantCode(t, err, CodeWrongPasscode)
	p := e.dial("r", "p", RoleParticipant, WithPasscode("hunter2-secret"))
	waitFor[Waiting](t, p)
	wantCode(t, p.SendChat(ctx(t), 0, []byte("x")), CodeNotAdmitted)
	h.Close()
	out := buf.String()
	if !strings.Contains(out, "join refused") {
		t.Fatalf("expected a log of the refused join, got:\n%s", out)
	}
	for _, secret := range []string{"hunter2", "guess-secret", "tj1.", "argon2id$"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}
