package keys

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// securityCodeLabel is the ExpandWithLabel label of the security code. The
// suite prefixes it with "MLS 1.0 ", so it cannot collide with any label of
// RFC 9420. (v1 was a 12-digit code; v2 is the 40-digit one.)
const securityCodeLabel = "Tresor security code v2"

// Shape of the security code: SecurityCodeGroups groups of five decimal
// digits.
const (
	SecurityCodeGroups = 8
	securityCodeDigits = 5
	securityCodeChunk  = 5 // bytes of expanded output per group
)

// SecurityCode returns a code for people to compare out loud: forty decimal
// digits in eight groups of five, e.g.
// "04217 73091 58812 00934 67120 33918 80045 12766".
//
//	b     = ExpandWithLabel(epoch_authenticator, "Tresor security code v2", "", 40)
//	group = uint40_be(b[5i : 5i+5]) mod 10^5,  i = 0 … 7
//
// epoch_authenticator (RFC 9420 §8.7) is derived from the epoch secret, which
// binds the GroupContext and so the tree hash: every member, key and
// credential of the epoch. Members with equal codes hold the same group
// state; a member the server slipped in, or a split of the group into two
// views, makes the codes differ. Every Commit changes the code.
//
// Entropy: 8 × log2(10^5) ≈ 132.9 bits (each group reduces 40 uniform bits
// mod 10^5, a bias below 10^5 / 2^40 ≈ 2^-23 per group). Outsiders cannot
// compute the code at all. The bound that matters is the one against a
// member who colludes with the server: it can choose Commits, and so grind
// two views of the group until their codes collide. A birthday search over
// 132.9 bits needs about 2^66 Commits per view; at the ~250 µs a Commit costs
// on one core, that is some 2^54 core-seconds, about 600 million core-years.
// (The 12-digit code of v1 fell to 2^20 Commits, minutes on a laptop.)
func (g *Group) SecurityCode() (string, error) {
	if !g.Active() {
		return "", g.errInactive()
	}
	b, err := defaultSuite().ExpandWithLabel(g.st.EpochAuthenticator(), securityCodeLabel, nil, SecurityCodeGroups*securityCodeChunk)
	if err != nil {
		return "", classify("security code", err)
	}
	defer clear(b)
	var sb strings.Builder
	var chunk [8]byte
	for i := range SecurityCodeGroups {
		copy(chunk[8-securityCodeChunk:], b[i*securityCodeChunk:(i+1)*securityCodeChunk])
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%0*d", securityCodeDigits, binary.BigEndian.Uint64(chunk[:])%100_000)
	}
	return sb.String(), nil
}
