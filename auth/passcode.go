package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passcodes are stored only as argon2id hashes (RFC 9106) in the PHC string
// format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<base64 salt>$<base64 hash>
//
// base64 is standard without padding, as PHC specifies. The parameters are
// the OWASP minimum for argon2id (19 MiB, 2 passes, 1 lane): a room's
// passcode is short, so the hash must be slow to brute-force if the room
// settings leak. The signaling server also rate-limits failed attempts and
// bounds concurrent hashing.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// HashPasscode returns the argon2id hash of a meeting passcode in PHC string
// format, with a fresh random salt. Store the hash, never the passcode
// (signaling.RoomConfig.PasscodeHash takes it).
func HashPasscode(passcode string) (string, error) {
	if passcode == "" || len(passcode) > MaxPasscodeLen {
		return "", fmt.Errorf("auth: hash passcode: empty or longer than %d bytes", MaxPasscodeLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: hash passcode: %w", err)
	}
	key := argon2.IDKey([]byte(passcode), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// PasscodeHash is a parsed and bounds-checked passcode hash (from
// [ParsePasscodeHash]).
type PasscodeHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// ParsePasscodeHash parses a PHC argon2id string made by [HashPasscode]. It
// refuses parameters outside sane bounds (8–256 MiB, 1–10 passes, 1–16
// lanes), so that a bad room setting cannot make a server hash with absurd
// cost.
func ParsePasscodeHash(s string) (*PasscodeHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errors.New("auth: passcode hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, errors.New("auth: passcode hash: unsupported version")
	}
	var h PasscodeHash
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil || n != 3 {
		return nil, errors.New("auth: passcode hash: bad parameters")
	}
	if h.memory < 8*1024 || h.memory > 256*1024 || h.time < 1 || h.time > 10 || threads < 1 || threads > 16 {
		return nil, errors.New("auth: passcode hash: parameters out of range")
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return nil, errors.New("auth: passcode hash: bad salt")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, errors.New("auth: passcode hash: bad hash")
	}
	return &h, nil
}

// Verify reports whether passcode matches, comparing in constant time. It
// costs one argon2id computation (tens of milliseconds and the hash's
// memory): callers bound and rate-limit it.
func (h *PasscodeHash) Verify(passcode string) bool {
	if len(passcode) > MaxPasscodeLen {
		return false
	}
	key := argon2.IDKey([]byte(passcode), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// VerifyPasscode reports whether passcode matches a hash made by
// [HashPasscode]. The comparison is constant-time.
func VerifyPasscode(hash, passcode string) (bool, error) {
	h, err := ParsePasscodeHash(hash)
	if err != nil {
		return false, err
	}
	return h.Verify(passcode), nil
}
