package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A join token is issued by the app's backend and presented in the
// signaling "join" message. It is compact and self-describing:
//
//	tj1.<base64url(payload)>.<base64url(signature)>
//
//	payload   = JSON {"room":…,"sub":…,"name":…,"role":…,"exp":<unix seconds>}
//	signature = Ed25519(backend key, "tresor join token v1\x00" ‖ base64url(payload))
//
// base64url is RFC 4648 §5 without padding. The context string keeps a
// signature made for anything else with the same key from verifying as a
// token. The signature covers the payload's encoded bytes, so verification
// never depends on how JSON is re-encoded; the payload is only parsed after
// the signature verifies (untrusted, then validated).
const (
	tokenPrefix  = "tj1."
	tokenContext = "tresor join token v1\x00"
)

// Errors from [VerifyToken]; match them with errors.Is. The signaling
// server answers them with the error codes invalid_token and token_expired.
var (
	// ErrInvalidToken: the token is malformed, forged, tampered with, or
	// asserts invalid claims.
	ErrInvalidToken = errors.New("auth: invalid join token")
	// ErrTokenExpired: the token verified but is past its expiry.
	ErrTokenExpired = errors.New("auth: join token expired")
)

// Claims is what a join token asserts about the person presenting it.
type Claims struct {
	// Room the token admits to.
	Room string
	// Identity is the stable identifier the server knows the participant
	// by (an opaque id; the server needs no e-mail address). See
	// [ValidIdentity].
	Identity string
	// Name is the display name shown in rosters.
	Name string
	// Role decides what the participant may do (see [Role]).
	Role Role
	// Expiry is when the token stops being accepted for joining.
	Expiry time.Time
}

type tokenPayload struct {
	Room string `json:"room"`
	Sub  string `json:"sub"`
	Name string `json:"name,omitempty"`
	Role Role   `json:"role"`
	Exp  int64  `json:"exp"`
}

func (c *Claims) validate() error {
	if c.Room == "" || len(c.Room) > MaxRoomLen {
		return errors.New("invalid room")
	}
	if !ValidIdentity(c.Identity) {
		return errors.New("invalid identity")
	}
	if len(c.Name) > MaxNameLen {
		return errors.New("name too long")
	}
	if !c.Role.Valid() {
		return fmt.Errorf("invalid role %q", c.Role)
	}
	if c.Expiry.IsZero() {
		return errors.New("missing expiry")
	}
	return nil
}

// MintToken signs claims with the backend's Ed25519 private key. The demo
// and tests use it; a production backend runs the same code (or any
// implementation of the format above).
func MintToken(key ed25519.PrivateKey, c Claims) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("auth: mint token: bad private key size")
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("auth: mint token: %w", err)
	}
	payload, err := json.Marshal(tokenPayload{Room: c.Room, Sub: c.Identity, Name: c.Name, Role: c.Role, Exp: c.Expiry.Unix()})
	if err != nil {
		return "", fmt.Errorf("auth: mint token: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	sig := ed25519.Sign(key, []byte(tokenContext+p))
	return tokenPrefix + p + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifyToken checks a token's signature against each of keys (so that a
// backend can rotate keys), then its claims and expiry against now. Its
// errors match [ErrInvalidToken] or [ErrTokenExpired] and never repeat the
// token.
func VerifyToken(token string, keys []ed25519.PublicKey, now time.Time) (*Claims, error) {
	invalid := func(why string) (*Claims, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, why)
	}
	if len(token) > MaxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return invalid("not a join token")
	}
	p, s, ok := strings.Cut(token[len(tokenPrefix):], ".")
	if !ok {
		return invalid("not a join token")
	}
	// Strict decoding rejects non-zero padding bits, and the decoder would
	// skip line breaks: refusing both gives each token exactly one encoding
	// (found by FuzzVerifyToken and FuzzParseIdentity).
	if strings.ContainsAny(token, "\r\n") {
		return invalid("not a join token")
	}
	b64 := base64.RawURLEncoding.Strict()
	sig, err := b64.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return invalid("bad signature encoding")
	}
	signed := []byte(tokenContext + p)
	verified := false
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, signed, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return invalid("signature does not verify")
	}
	raw, err := b64.DecodeString(p)
	if err != nil {
		return invalid("bad payload encoding")
	}
	var tp tokenPayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tp); err != nil {
		return invalid("bad payload")
	}
	c := &Claims{Room: tp.Room, Identity: tp.Sub, Name: tp.Name, Role: tp.Role, Expiry: time.Unix(tp.Exp, 0)}
	if err := c.validate(); err != nil {
		return invalid(err.Error())
	}
	if !now.Before(c.Expiry) {
		return nil, ErrTokenExpired
	}
	return c, nil
}

// UnverifiedRoom returns the room a token names without verifying
// anything, or "" if it names none. A client uses it to fill in the "join"
// message; nothing may trust it (the server verifies the token).
func UnverifiedRoom(token string) string { return unverifiedPayload(token).Room }

// UnverifiedIdentity returns the identity (subject) a token names without
// verifying anything, or "". A client uses it to name its MLS identity
// before it joins; nothing may trust it.
func UnverifiedIdentity(token string) string { return unverifiedPayload(token).Sub }

func unverifiedPayload(token string) tokenPayload {
	var tp tokenPayload
	if !strings.HasPrefix(token, tokenPrefix) {
		return tp
	}
	p, _, _ := strings.Cut(token[len(tokenPrefix):], ".")
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return tp
	}
	if json.Unmarshal(raw, &tp) != nil {
		return tokenPayload{}
	}
	return tp
}
