package rtcpx

import (
	"testing"

	"github.com/pion/rtcp"
)

func marshal(t testing.TB, pkts ...rtcp.Packet) []byte {
	t.Helper()
	for _, p := range pkts {
		if cc, ok := p.(*rtcp.TransportLayerCC); ok {
			// pion leaves the TWCC header to the caller.
			size := cc.MarshalSize()
			cc.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback,
				Padding: size%4 != 0, Length: uint16((size+3)/4 - 1)}
		}
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNextAndNACK(t *testing.T) {
	b := marshal(t,
		&rtcp.ReceiverReport{SSRC: 1},
		&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 7, Nacks: []rtcp.NackPair{{PacketID: 65534, LostPackets: 0b101}, {PacketID: 10}}},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 7},
		&rtcp.FullIntraRequest{SenderSSRC: 1, MediaSSRC: 7, FIR: []rtcp.FIREntry{{SSRC: 7}}},
	)
	var kinds []Kind
	var nacked []uint16
	for len(b) > 0 {
		pkt, kind, rest, err := Next(b)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, kind)
		if kind == KindNACK {
			if MediaSSRC(pkt) != 7 {
				t.Fatalf("media SSRC %d", MediaSSRC(pkt))
			}
			ForEachNACK(pkt, func(s uint16) { nacked = append(nacked, s) })
		}
		b = rest
	}
	want := []Kind{KindRR, KindNACK, KindPLI, KindFIR}
	if len(kinds) != len(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
	wantSeq := []uint16{65534, 65535, 1, 10}
	if len(nacked) != len(wantSeq) {
		t.Fatalf("nacked %v, want %v", nacked, wantSeq)
	}
	for i := range wantSeq {
		if nacked[i] != wantSeq[i] {
			t.Fatalf("nacked %v, want %v", nacked, wantSeq)
		}
	}
}

// TestTWCCMatchesPion decodes feedback built by pion/rtcp and compares with
// pion's own decoding.
func TestTWCCMatchesPion(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: 65530, PacketStatusCount: 22, ReferenceTime: 0x7ffff0, FbPktCount: 3,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta,
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketNotReceived,
				rtcp.TypeTCCPacketReceivedSmallDelta}},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{
				1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 0},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -1000}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 750},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
		},
	}
	b := marshal(t, fb)
	pkt, kind, _, err := Next(b)
	if err != nil || kind != KindTWCC {
		t.Fatalf("Next(%x): kind %v err %v", b[:4], kind, err)
	}
	var back rtcp.TransportLayerCC
	if err := back.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	// Expected from pion's structures.
	type st struct {
		seq uint16
		rx  bool
		at  int64
	}
	var want []st
	at := int64(back.ReferenceTime) * 64000
	if back.ReferenceTime&0x800000 != 0 {
		at = (int64(back.ReferenceTime) - 1<<24) * 64000
	}
	n, d := 0, 0
	for _, c := range back.PacketChunks {
		var syms []uint16
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range c.RunLength {
				syms = append(syms, c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			syms = c.SymbolList
		}
		for _, s := range syms {
			if n >= int(back.PacketStatusCount) {
				break
			}
			seq := back.BaseSequenceNumber + uint16(n)
			if s == rtcp.TypeTCCPacketNotReceived {
				want = append(want, st{seq, false, 0})
			} else {
				at += back.RecvDeltas[d].Delta
				d++
				want = append(want, st{seq, true, at})
			}
			n++
		}
	}
	var got []st
	if err := ForEachTWCC(pkt, func(seq uint16, rx bool, a int64) { got = append(got, st{seq, rx, a}) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 22 {
		t.Fatalf("got %d statuses, want %d (22)", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("status %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0x80}, {0x40, 201, 0, 0}, {0x80, 201, 0, 5}, {0x8f, 205, 0, 1, 0, 0, 0, 0}} {
		if _, _, _, err := Next(b); err == nil {
			t.Errorf("Next(%x) accepted", b)
		}
	}
	// A TWCC packet whose chunks claim more statuses than the packet holds.
	b := []byte{0x8f, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 50, 0, 0, 0, 0}
	if err := ForEachTWCC(b, func(uint16, bool, int64) {}); err == nil {
		t.Error("truncated TWCC accepted")
	}
}

func FuzzRTCP(f *testing.F) {
	f.Add(marshal(f, &rtcp.TransportLayerNack{MediaSSRC: 7, Nacks: []rtcp.NackPair{{PacketID: 1, LostPackets: 3}}}))
	f.Add(marshal(f, &rtcp.PictureLossIndication{MediaSSRC: 7}, &rtcp.ReceiverReport{SSRC: 1}))
	f.Add(marshal(f, &rtcp.TransportLayerCC{MediaSSRC: 2, BaseSequenceNumber: 1, PacketStatusCount: 2,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 2}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: 1, Delta: 250}, {Type: 1, Delta: 250}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; len(b) > 0 && i < 100; i++ {
			pkt, kind, rest, err := Next(b)
			if err != nil {
				return
			}
			if len(rest) >= len(b) {
				t.Fatal("Next made no progress")
			}
			switch kind {
			case KindNACK:
				ForEachNACK(pkt, func(uint16) {})
			case KindTWCC:
				count := 0
				_ = ForEachTWCC(pkt, func(uint16, bool, int64) { count++ })
				if len(pkt) >= 16 && count > int(pkt[14])<<8|int(pkt[15]) {
					t.Fatalf("%d statuses for a count of %d", count, int(pkt[14])<<8|int(pkt[15]))
				}
			}
			b = rest
		}
	})
}

func BenchmarkForEachTWCC(b *testing.B) {
	fb := marshal(b, &rtcp.TransportLayerCC{MediaSSRC: 2, BaseSequenceNumber: 1, PacketStatusCount: 14,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 14}},
		RecvDeltas: []*rtcp.RecvDelta{{Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250},
			{Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250},
			{Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250},
			{Type: 1, Delta: 250}, {Type: 1, Delta: 250}, {Type: 1, Delta: 250}}})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = ForEachTWCC(fb, func(uint16, bool, int64) { n++ })
	}
}
