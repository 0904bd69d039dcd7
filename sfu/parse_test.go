package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func TestParseRTPPadding(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 4, SequenceNumber: 7}, Payload: []byte{1, 2, 3}}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var h rtp.Header
	payload, err := parseRTP(raw, &h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(payload, []byte{1, 2, 3}) || h.PaddingSize != 4 || h.SequenceNumber != 7 {
		t.Fatalf("payload %x padding %d seq %d", payload, h.PaddingSize, h.SequenceNumber)
	}
	// Re-marshalling header and payload restores the packet.
	out := make([]byte, 1500)
	n, err := rtp.MarshalPacketTo(out, &h, payload) //nolint:staticcheck // the write path uses it
	if err != nil || !bytes.Equal(out[:n], raw) {
		t.Fatalf("re-marshal %x, want %x (%v)", out[:n], raw, err)
	}
	raw[len(raw)-1] = 200 // padding longer than the packet
	if _, err := parseRTP(raw, &h); err == nil {
		t.Fatal("bad padding accepted")
	}
}

// FuzzParseRTP: parsing never panics, and a parsed packet re-marshals to
// the same bytes (what the SFU writes is what it read, header fields
// aside).
func FuzzParseRTP(f *testing.F) {
	for _, p := range []rtp.Packet{
		{Header: rtp.Header{Version: 2, SequenceNumber: 1}, Payload: []byte{0x10, 0x00, 0x9d}},
		{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 3}, Payload: []byte{1}},
		{Header: rtp.Header{Version: 2, Extension: true, ExtensionProfile: 0xBEDE,
			Extensions: []rtp.Extension{}}, Payload: []byte{1, 2}},
	} {
		raw, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var h rtp.Header
		payload, err := parseRTP(raw, &h)
		if err != nil {
			return
		}
		if len(payload)+int(h.PaddingSize) > len(raw) {
			t.Fatalf("payload %d + padding %d exceeds packet %d", len(payload), h.PaddingSize, len(raw))
		}
		out := make([]byte, len(raw)+64)
		if _, err := rtp.MarshalPacketTo(out, &h, payload); err != nil { //nolint:staticcheck // as the write path
			t.Fatalf("re-marshal: %v", err)
		}
	})
}
