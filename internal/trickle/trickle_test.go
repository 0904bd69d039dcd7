package trickle

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"
)

func cand(port int, ufrag string) webrtc.ICECandidateInit {
	s := fmt.Sprintf("candidate:1 1 udp 2130706431 127.0.0.1 %d typ host", port)
	if ufrag != "" {
		s += " ufrag " + ufrag + " generation 0"
	}
	return webrtc.ICECandidateInit{Candidate: s}
}

func sdp(ufrag string) string {
	return "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:" + ufrag + "\r\na=ice-pwd:x\r\n"
}

func ports(cs []webrtc.ICECandidateInit) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Candidate)
	}
	return out
}

func TestUfrag(t *testing.T) {
	u := "FromField"
	for _, tc := range []struct {
		c    webrtc.ICECandidateInit
		want string
	}{
		{cand(1, ""), ""},
		{cand(1, "abcd"), "abcd"},
		{webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 1 10.0.0.1 5 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Qx network-cost 999"}, "Qx"},
		{webrtc.ICECandidateInit{Candidate: cand(1, "line").Candidate, UsernameFragment: &u}, "FromField"},
		// "ufrag" as an address or a type is not the extension.
		{webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 1 ufrag 5 typ host"}, ""},
		{webrtc.ICECandidateInit{Candidate: "candidate:garbage"}, ""},
		{webrtc.ICECandidateInit{}, ""},
	} {
		if got := CandidateUfrag(tc.c); got != tc.want {
			t.Errorf("CandidateUfrag(%q) = %q, want %q", tc.c.Candidate, got, tc.want)
		}
	}
	if got := DescriptionUfrag(sdp("Ab+/")); got != "Ab+/" {
		t.Errorf("DescriptionUfrag = %q", got)
	}
	if got := DescriptionUfrag("v=0\r\n"); got != "" {
		t.Errorf("DescriptionUfrag without ufrag = %q", got)
	}
}

// TestGateFirstDescription: before any remote description every candidate
// waits; the description releases its session's and those naming none.
func TestGateFirstDescription(t *testing.T) {
	var g Gate
	for _, c := range []webrtc.ICECandidateInit{cand(1, "a"), cand(2, ""), cand(3, "b"), cand(4, "a")} {
		if !g.Hold(c) {
			t.Fatalf("closed gate declined %q", c.Candidate)
		}
	}
	got := g.Open(sdp("a"))
	if want := ports([]webrtc.ICECandidateInit{cand(1, "a"), cand(2, ""), cand(4, "a")}); !slices.Equal(ports(got), want) {
		t.Fatalf("Open released %q, want %q in order", ports(got), want)
	}
	if g.Hold(cand(5, "a")) || g.Hold(cand(6, "")) {
		t.Fatal("open gate held a candidate of the current session")
	}
	if !g.Hold(cand(7, "c")) {
		t.Fatal("open gate passed a candidate of another session")
	}
	// The description of session b releases b's candidate, held since
	// before the first description, and c's stays.
	if got := g.Open(sdp("b")); !slices.Equal(ports(got), ports([]webrtc.ICECandidateInit{cand(3, "b")})) {
		t.Fatalf("second Open released %q", ports(got))
	}
	if got := g.Open(sdp("c")); !slices.Equal(ports(got), ports([]webrtc.ICECandidateInit{cand(7, "c")})) {
		t.Fatalf("third Open released %q", ports(got))
	}
}

// TestGateRestart: an ICE restart's candidates that overtake its
// description wait for it, while the old session's still pass.
func TestGateRestart(t *testing.T) {
	var g Gate
	g.Open(sdp("old"))
	if g.Hold(cand(1, "old")) {
		t.Fatal("held a candidate of the current session")
	}
	if !g.Hold(cand(2, "new")) {
		t.Fatal("passed a candidate that overtook its session's description")
	}
	if got := g.Open(sdp("new")); len(got) != 1 || got[0] != cand(2, "new") {
		t.Fatalf("restart description released %q", ports(got))
	}
	if g.Hold(cand(3, "new")) {
		t.Fatal("held a candidate of the restarted session")
	}
	// A late candidate of the old session never reaches the connection
	// (which would drop it).
	if !g.Hold(cand(4, "old")) {
		t.Fatal("passed a candidate of the old session")
	}
}

// TestGateBounded: candidates of sessions that never come cannot grow
// the gate without bound; the newest are kept.
func TestGateBounded(t *testing.T) {
	var g Gate
	g.Open(sdp("cur"))
	for i := range 3 * maxHeld {
		g.Hold(cand(i, fmt.Sprintf("s%d", i%2)))
	}
	g.mu.Lock()
	n := len(g.held)
	g.mu.Unlock()
	if n != maxHeld {
		t.Fatalf("gate holds %d candidates, want %d", n, maxHeld)
	}
	got := g.Open(sdp("s1"))
	if len(got) != maxHeld/2 || got[len(got)-1] != cand(3*maxHeld-1, "s1") {
		t.Fatalf("released %d, last %q", len(got), got[len(got)-1].Candidate)
	}
}

// TestGateConcurrent: with candidates offered while the gate opens, each
// is either released by Open or declined by Hold, exactly once; none is
// lost in between, and each producer's come out in its order.
func TestGateConcurrent(t *testing.T) {
	for range 20 {
		var g Gate
		const producers, per = 4, 60 // fewer than maxHeld in all
		var mu sync.Mutex
		declined := map[string]bool{}
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				for i := range per {
					c := cand(p*per+i, "u")
					if !g.Hold(c) {
						mu.Lock()
						declined[c.Candidate] = true
						mu.Unlock()
					}
				}
			})
		}
		released := g.Open(sdp("u"))
		wg.Wait()
		seen := map[string]bool{}
		for _, c := range released {
			if declined[c.Candidate] || seen[c.Candidate] {
				t.Fatalf("%q delivered twice", c.Candidate)
			}
			seen[c.Candidate] = true
		}
		if n := len(seen) + len(declined); n != producers*per {
			t.Fatalf("%d candidates released + declined, want %d", n, producers*per)
		}
		last := map[int]int{}
		for _, c := range released {
			var port int
			fmt.Sscanf(c.Candidate, "candidate:1 1 udp 2130706431 127.0.0.1 %d", &port)
			p := port / per
			if prev, ok := last[p]; ok && port < prev {
				t.Fatalf("producer %d: %d released after %d", p, port, prev)
			}
			last[p] = port
		}
	}
}
