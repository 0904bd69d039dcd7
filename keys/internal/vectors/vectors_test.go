package vectors

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestLoad(t *testing.T) {
	var v []struct {
		Header HexBytes `json:"vlbytes_header"`
		Length uint64   `json:"length"`
	}
	Load(t, "deserialization", &v)
	if len(v) == 0 || len(v[0].Header) == 0 {
		t.Fatalf("deserialization: got %d entries", len(v))
	}
}

func TestHexBytes(t *testing.T) {
	var v struct{ A, B HexBytes }
	if err := json.Unmarshal([]byte(`{"A":"00ff10","B":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.A, []byte{0, 0xff, 0x10}) || v.B != nil {
		t.Fatalf("got %x, %x", v.A, v.B)
	}
	if v.A.String() != "00ff10" {
		t.Fatalf("String() = %q", v.A.String())
	}
	for _, bad := range []string{`{"A":"0"}`, `{"A":"zz"}`, `{"A":5}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
