// Package vectors loads the MLS interoperability test vectors kept in
// keys/testdata (gzipped copies of github.com/mlswg/mls-implementations
// test-vectors; see keys/testdata/README.md for their provenance). It is a
// test helper: only _test.go files import it.
package vectors

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Load decodes keys/testdata/<name>.json.gz into v, failing t on any error.
// The file is found relative to this source file, so tests in any package
// can call it regardless of their working directory.
func Load(t testing.TB, name string, v any) {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("vectors: cannot locate the testdata directory")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "testdata", name+".json.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("vectors: %s: %v", name, err)
	}
	// Unknown fields are ignored: a test declares only the fields it checks.
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("vectors: %s: %v", name, err)
	}
}

// HexBytes is binary data that a vector file carries as a hex string. A JSON
// null decodes to nil.
type HexBytes []byte

// UnmarshalJSON decodes a JSON hex string.
func (h *HexBytes) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*h = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("vectors: hex field: %w", err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("vectors: hex field: %w", err)
	}
	*h = b
	return nil
}

// String returns the hex encoding, so failures print readable values.
func (h HexBytes) String() string { return hex.EncodeToString(h) }
