package keys

import (
	"encoding/binary"
	"fmt"
)

// securityCodeLabel is the ExpandWithLabel label of the security code. The
// suite prefixes it with "MLS 1.0 ", so it cannot collide with any label of
// RFC 9420.
const securityCodeLabel = "Tresor security code v1"

// SecurityCode returns a code for people to compare out loud: twelve decimal
// digits in three groups of four, e.g. "0421 7730 9158".
//
//	code = uint64_be(ExpandWithLabel(epoch_authenticator,
//	                 "Tresor security code v1", "", 8)) mod 10^12
//
// epoch_authenticator (RFC 9420 §8.7) is derived from the epoch secret, which
// binds the GroupContext and so the tree hash: every member, key and
// credential of the epoch. Members with equal codes hold the same group
// state; a member the server slipped in, or a split of the group into two
// views, makes the codes differ. Every Commit changes the code.
//
// Entropy: log2(10^12) ≈ 39.9 bits (a 64-bit value reduced mod 10^12, bias
// below 2^-24). The server and other outsiders cannot compute the code at
// all: matching a code they cannot see would take ~2^40 blind guesses. The
// code does not protect against a malicious member: one that colludes with
// the server to split the group could grind about 2^20 Commits per view for
// a birthday collision on 40 bits — but such a member can read the meeting
// anyway. Twelve digits keep a comparison short enough that people do it.
func (g *Group) SecurityCode() (string, error) {
	if !g.Active() {
		return "", fmt.Errorf("%w: removed from the group", ErrNotMember)
	}
	b, err := defaultSuite().ExpandWithLabel(g.st.EpochAuthenticator(), securityCodeLabel, nil, 8)
	if err != nil {
		return "", classify("security code", err)
	}
	v := binary.BigEndian.Uint64(b) % 1_000_000_000_000
	return fmt.Sprintf("%04d %04d %04d", v/100_000_000, v/10_000%10_000, v%10_000), nil
}
