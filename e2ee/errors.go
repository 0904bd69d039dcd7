package e2ee

import "errors"

// Sentinel errors a caller can act on with [errors.Is]. Every error returned
// by this package wraps at most one of them and names the step that failed.
// Authentication failures are deliberately vague: they never say which part
// of a frame was wrong.
var (
	// ErrUnknownKey means the KID in an SFrame header has no key in the
	// receiver's key ring (RFC 9605 §4.4.3: "If no key is found, the
	// decryption MUST fail"). The frame may belong to an epoch not yet
	// installed or already erased.
	ErrUnknownKey = errors.New("e2ee: unknown key")

	// ErrAuthentication means the AEAD tag did not verify: the frame, its
	// header or its metadata (clear codec prefix) was modified, or it was
	// encrypted under a different key.
	ErrAuthentication = errors.New("e2ee: authentication failed")

	// ErrReplay means the frame's CTR was already accepted for its KID or is
	// older than the replay window (RFC 9605 §9.3).
	ErrReplay = errors.New("e2ee: replayed or too old frame")

	// ErrMalformed means the input could not be parsed: a truncated or
	// non-minimal SFrame header (RFC 9605 §4.3), a ciphertext shorter than
	// the tag, or a media frame shorter than its codec's clear prefix.
	ErrMalformed = errors.New("e2ee: malformed frame")

	// ErrCounterExhausted means the sender has used every CTR value for its
	// current KID; a new key (a new KID) is needed before sending again.
	// CTR values are never reused for a KID (RFC 9605 §4.4.3, §9.1).
	ErrCounterExhausted = errors.New("e2ee: counter exhausted for this key")
)
