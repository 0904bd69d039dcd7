// Package demotoken is the demo meeting's DEVELOPMENT-ONLY token endpoint
// and its client. The endpoint mints a join token for anyone who asks; the
// examples (bot, recorder) fetch one from it when they are not given a
// token. A real deployment mints tokens in its own backend, for users it
// has authenticated (auth.MintToken), and has no such endpoint.
//
//	GET /demo/token?name=Ada&role=participant
//	→ {"token":"tj1…","room":"demo","identity":"guest-…","signal":"/signal"}
package demotoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tresor-dev/tresor/auth"
)

// Path is where the demo serves the endpoint.
const Path = "/demo/token"

// Lifetime is how long a token from the endpoint may be used to join. It only
// has to outlive the join itself: a client that reconnects fetches a new one.
const Lifetime = time.Hour

// MaxNameLen bounds the display name, in bytes.
const MaxNameLen = 64

// Response is the endpoint's JSON answer.
type Response struct {
	// Token is the join token (signaling/PROTOCOL.md, "Join tokens").
	Token string `json:"token"`
	// Room is the room the token admits to.
	Room string `json:"room"`
	// Identity is the fresh random identity in the token.
	Identity string `json:"identity"`
	// Signal is the signaling WebSocket's path ("/signal"); Fetch makes it
	// an absolute ws:// or wss:// URL.
	Signal string `json:"signal"`
}

// Handler is the DEVELOPMENT-ONLY token endpoint: it mints a token for
// anyone who asks, as a participant or a cohost. Host tokens are refused:
// the demo prints its only host token at start. Joining still needs the
// passcode and, with the waiting room on, a host's admission.
type Handler struct {
	// Key signs the tokens.
	Key ed25519.PrivateKey
	// Room is the room the tokens admit to.
	Room string
	// Signal is the signaling path returned to clients.
	Signal string
	// Logger receives one line per token (identity and role, never the
	// token). Nil discards.
	Logger *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	name := strings.TrimSpace(r.Form.Get("name"))
	if name == "" {
		name = "Guest"
	}
	if !validName(name) {
		http.Error(w, fmt.Sprintf("name: 1 to %d bytes of text without control characters", MaxNameLen), http.StatusBadRequest)
		return
	}
	role := auth.Role(r.Form.Get("role"))
	switch role {
	case "":
		role = auth.RoleParticipant
	case auth.RoleParticipant, auth.RoleCohost:
	case auth.RoleHost:
		http.Error(w, "host tokens are only in the host link printed at start", http.StatusForbidden)
		return
	default:
		http.Error(w, "role: participant or cohost", http.StatusBadRequest)
		return
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	id := "guest-" + hex.EncodeToString(b[:])
	tok, err := auth.MintToken(h.Key, auth.Claims{Room: h.Room, Identity: id, Name: name, Role: role, Expiry: time.Now().Add(Lifetime)})
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err != nil {
		log.Warn("demotoken: mint", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	log.Info("demotoken: development token issued", "identity", id, "role", string(role))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(Response{Token: tok, Room: h.Room, Identity: id, Signal: h.Signal})
}

func validName(s string) bool {
	if len(s) > MaxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Fetch asks the demo at base (its http:// or https:// URL) for a token.
// The returned Signal is the absolute WebSocket URL to join with.
func Fetch(ctx context.Context, client *http.Client, base, name string, role auth.Role) (*Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("demotoken: %q is not an http(s) URL", base)
	}
	q := url.Values{"name": {name}, "role": {string(role)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.ResolveReference(&url.URL{Path: Path, RawQuery: q.Encode()}).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("demotoken: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demotoken: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return nil, fmt.Errorf("demotoken: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("demotoken: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		return nil, fmt.Errorf("demotoken: malformed answer")
	}
	sig, err := u.Parse(r.Signal)
	if err != nil || r.Signal == "" || sig.Host != u.Host {
		return nil, fmt.Errorf("demotoken: the signaling URL must be a path on the demo's own host")
	}
	sig.Scheme = map[string]string{"http": "ws", "https": "wss"}[sig.Scheme]
	if sig.Scheme == "" {
		return nil, fmt.Errorf("demotoken: signaling URL must be on the demo's own scheme")
	}
	r.Signal = sig.String()
	return &r, nil
}

// SignalURL returns the signaling WebSocket URL for addr: a ws:// or wss://
// URL as it is, or the demo's http(s):// URL with the demo's signaling path.
func SignalURL(addr string) (string, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("demotoken: %q is not a URL", addr)
	}
	switch u.Scheme {
	case "ws", "wss":
		return u.String(), nil
	case "http", "https":
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		if u.Path == "" || u.Path == "/" {
			u.Path = "/signal"
		}
		return u.String(), nil
	}
	return "", fmt.Errorf("demotoken: %q: want an http(s) or ws(s) URL", addr)
}
