package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// TestSecurityCodeDerivation recomputes the code from epoch_authenticator
// with an independent ExpandWithLabel (RFC 9420 §8: KDFLabel = uint16
// length ‖ opaque label<V> ‖ opaque context<V>, one-byte varint lengths
// here) and checks its shape: forty digits, at least 128 bits.
func TestSecurityCodeDerivation(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob")
	got := code(t, ms[1].g)

	const label = "MLS 1.0 Tresor security code v2"
	info := binary.BigEndian.AppendUint16(nil, 40)
	info = append(info, byte(len(label)))
	info = append(info, label...)
	info = append(info, 0) // empty context
	b, err := hkdf.Expand(sha256.New, ms[1].g.st.EpochAuthenticator(), string(info), 40)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for i := 0; i < 40; i += 5 {
		var v uint64
		for _, x := range b[i : i+5] {
			v = v<<8 | uint64(x)
		}
		groups = append(groups, fmt.Sprintf("%05d", v%100000))
	}
	if want := strings.Join(groups, " "); got != want {
		t.Fatalf("code %q, independently derived %q", got, want)
	}
	if digits := strings.Count(strings.ReplaceAll(got, " ", ""), "") - 1; digits != 40 {
		t.Fatalf("%d digits", digits)
	}
}
