package hostile

import (
	"bytes"
	"testing"
)

// FuzzSessionObserve: parsing DTLS datagrams from the wire never panics.
func FuzzSessionObserve(f *testing.F) {
	hello := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46,
		2, 0, 0, 34, 0, 0, 0, 0, 0, 0, 0, 34, 0xfe, 0xfd}
	hello = append(hello, bytes.Repeat([]byte{7}, 32)...)
	f.Add(hello)
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Session
		s.observe(true, b)
		s.observe(false, b)
	})
}

// FuzzKeyLog: any bytes written to a key log are parsed without panicking,
// and a valid line is found among garbage.
func FuzzKeyLog(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM 00 11\n"))
	f.Add([]byte("garbage\nCLIENT_RANDOM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := NewKeyLog()
		k.Write(b)
		k.Write([]byte("\nCLIENT_RANDOM " + string(bytes.Repeat([]byte("ab"), 32)) + " 0102\n"))
		var cr [32]byte
		for i := range cr {
			cr[i] = 0xab
		}
		if ms, ok := k.MasterSecret(cr); !ok || !bytes.Equal(ms, []byte{1, 2}) {
			t.Fatalf("valid line not parsed after %q", b)
		}
	})
}

// TestSessionKeys derives DTLS-SRTP keys from a recorded handshake's
// parameters the way RFC 5764 §4.2 splits the exporter output.
func TestSessionKeys(t *testing.T) {
	s := Session{HaveClient: true, HaveServer: true, PeerIsClient: true, CipherSuite: 0xc02b, SRTPProfile: 0x0007}
	hk, err := s.Keys(bytes.Repeat([]byte{1}, 48))
	if err != nil {
		t.Fatal(err)
	}
	if len(hk.PeerKey) != 16 || len(hk.PeerSalt) != 12 || bytes.Equal(hk.PeerKey, hk.ServerKey) {
		t.Fatalf("bad key split: %d/%d", len(hk.PeerKey), len(hk.PeerSalt))
	}
	s.PeerIsClient = false
	hk2, err := s.Keys(bytes.Repeat([]byte{1}, 48))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hk.PeerKey, hk2.ServerKey) || !bytes.Equal(hk.ServerSalt, hk2.PeerSalt) {
		t.Fatal("roles do not swap the directions")
	}
	if _, err := (Session{}).Keys(nil); err == nil {
		t.Fatal("keys without a handshake")
	}
}
