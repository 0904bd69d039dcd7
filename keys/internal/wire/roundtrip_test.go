package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// roundTrip decodes data into v, re-encodes it and requires the same bytes.
func roundTrip(t testing.TB, name string, data []byte, v wireValue) {
	t.Helper()
	if err := codec.Unmarshal(data, v); err != nil {
		t.Errorf("%s: decode: %v", name, err)
		return
	}
	enc, err := codec.Marshal(v)
	if err != nil {
		t.Errorf("%s: re-encode: %v", name, err)
		return
	}
	if !bytes.Equal(enc, data) {
		t.Errorf("%s: re-encoding differs\n got %x\nwant %x", name, enc, data)
	}
}

// requireTruncationsFail checks that every proper prefix of a valid encoding
// is rejected with codec.ErrMalformed and never panics.
func requireTruncationsFail(t *testing.T, name string, data []byte, fresh func() wireValue) {
	t.Helper()
	for i := range data {
		if err := codec.Unmarshal(data[:i], fresh()); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("%s truncated to %d of %d bytes: err = %v; want ErrMalformed", name, i, len(data), err)
		}
	}
	if err := codec.Unmarshal(append(bytes.Clone(data), 0), fresh()); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("%s with a trailing byte: err = %v; want ErrMalformed", name, err)
	}
}

func unmarshal(data []byte, v codec.Unmarshaler) error { return codec.Unmarshal(data, v) }
func marshal(v codec.Marshaler) ([]byte, error)        { return codec.Marshal(v) }
