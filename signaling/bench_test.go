package signaling

import (
	"fmt"
	"testing"
)

func BenchmarkDecodeMessage(b *testing.B) {
	msg := []byte(`{"v":1,"type":"chat","id":14,"epoch":3,"data":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := decodeMessage(msg)
		if err != nil || m.validate() != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatFanout measures relaying one chat message from one client to
// n-1 others through a real server on loopback, until all have it.
func BenchmarkChatFanout(b *testing.B) {
	for _, n := range []int{2, 10} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			unlimited := Rate{Per: 1e9, Burst: 1e9}
			e := newEnv(b, Config{MessageRate: unlimited, ChatRate: unlimited, ChatByteRate: unlimited, RoomChatRate: unlimited, RoomChatByteRate: unlimited})
			e.room("r", RoomConfig{})
			var cs []*Client
			for i := range n {
				cs = append(cs, e.dial("r", fmt.Sprint("c", i), RoleHost))
			}
			// Drain join/state events.
			for _, c := range cs[1:] {
				for len(c.Events()) > 0 {
					<-c.Events()
				}
			}
			payload := make([]byte, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := cs[0].SendChat(b.Context(), 1, payload); err != nil {
					b.Fatal(err)
				}
				for _, c := range cs[1:] {
					for {
						if _, ok := (<-c.Events()).(ChatReceived); ok {
							break
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n-1), "ns/delivery")
		})
	}
}
