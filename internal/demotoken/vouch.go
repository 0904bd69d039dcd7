package demotoken

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tresor-dev/tresor/auth"
)

// Paths of the demo's DEVELOPMENT-ONLY backend endpoints that vouch for
// members' MLS keys (package auth, MintAssertion):
//
//	GET  /demo/authority → {"keys":["<base64 Ed25519 public key>"]}
//	POST /demo/vouch  {"token":"tj1…","publicKey":"<base64>"} → {"assertion":"<base64>"}
//
// A real deployment vouches in its own backend, for users it authenticated,
// and ships its public keys with its app; here the demo's process is both
// the backend and the server, so the page learns the key from the server
// that serves the page (the web's limit, which a real app shares).
const (
	AuthorityPath = "/demo/authority"
	VouchPath     = "/demo/vouch"
)

// AssertionValidity is how long after its token's expiry an assertion from
// the endpoint may still bring its holder into the group.
const AssertionValidity = time.Hour

// Voucher serves AuthorityPath and VouchPath.
type Voucher struct {
	// Key signs tokens and assertions.
	Key ed25519.PrivateKey
	// Logger receives one line per assertion (identity, never a key or a
	// token). Nil discards.
	Logger *slog.Logger
}

// Authority is the answer of AuthorityPath.
type Authority struct {
	Keys [][]byte `json:"keys"`
}

type vouchRequest struct {
	Token     string `json:"token"`
	PublicKey []byte `json:"publicKey"`
}

type vouchResponse struct {
	Assertion []byte `json:"assertion"`
}

func (v *Voucher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == AuthorityPath && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Authority{Keys: [][]byte{v.Key.Public().(ed25519.PublicKey)}})
	case r.URL.Path == VouchPath && r.Method == http.MethodPost:
		var req vouchRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 8<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "want {\"token\":…,\"publicKey\":…}", http.StatusBadRequest)
			return
		}
		pub := v.Key.Public().(ed25519.PublicKey)
		a, err := auth.VouchForToken(v.Key, req.Token, []ed25519.PublicKey{pub}, req.PublicKey, time.Now(), AssertionValidity)
		if err != nil {
			http.Error(w, "not vouched: "+err.Error(), http.StatusForbidden)
			return
		}
		log := v.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Info("demotoken: development assertion issued", "identity", auth.UnverifiedIdentity(req.Token))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(vouchResponse{Assertion: a})
	default:
		http.Error(w, "GET "+AuthorityPath+" or POST "+VouchPath, http.StatusMethodNotAllowed)
	}
}

// FetchAuthority asks the demo at base for the backend's public keys.
func FetchAuthority(ctx context.Context, client *http.Client, base string) ([]ed25519.PublicKey, error) {
	var a Authority
	if err := call(ctx, client, base, http.MethodGet, AuthorityPath, nil, &a); err != nil {
		return nil, err
	}
	var keys []ed25519.PublicKey
	for _, k := range a.Keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("demotoken: malformed authority key")
		}
		keys = append(keys, ed25519.PublicKey(k))
	}
	return keys, nil
}

// Vouch asks the demo at base to vouch for publicKey, the MLS key of the
// holder of token.
func Vouch(ctx context.Context, client *http.Client, base, token string, publicKey []byte) ([]byte, error) {
	var resp vouchResponse
	if err := call(ctx, client, base, http.MethodPost, VouchPath, vouchRequest{Token: token, PublicKey: publicKey}, &resp); err != nil {
		return nil, err
	}
	return resp.Assertion, nil
}

func call(ctx context.Context, client *http.Client, base, method, path string, in, out any) error {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("demotoken: %q is not a URL", base)
	}
	u.Scheme = map[string]string{"ws": "http", "wss": "https", "http": "http", "https": "https"}[u.Scheme]
	if u.Scheme == "" {
		return fmt.Errorf("demotoken: %q: want an http(s) or ws(s) URL", base)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("demotoken: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.ResolveReference(&url.URL{Path: path}).String(), body)
	if err != nil {
		return fmt.Errorf("demotoken: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("demotoken: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return fmt.Errorf("demotoken: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demotoken: %s %s: %s", method, path, strings.TrimSpace(string(raw)))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("demotoken: malformed answer from %s", path)
	}
	return nil
}
