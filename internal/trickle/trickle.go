// Package trickle holds a peer connection's trickled remote ICE candidates
// (trickle ICE, RFC 8838) until the remote description they belong to is
// applied, across ICE restarts (RFC 8445 §9). The root client package, the
// SFU and the SFU's test peers share it.
//
// A candidate belongs to one ICE session, named by its username fragment
// (RFC 8839 §5.4 ice-ufrag; RFC 8838 §4.1: every candidate carries its
// ufrag, in RTCIceCandidateInit.usernameFragment or as the "ufrag"
// extension of the candidate line, which pion and browsers both write). A
// peer connection takes a candidate only while its current remote
// description has that ufrag: pion silently drops the others, browsers
// reject them. Candidates overtake descriptions in both directions of an
// ICE restart: the offerer's new candidates may reach the answerer before
// the restart offer does (pion gathers them as soon as the offer is
// created), and the answerer's before its answer. So the gate holds a
// candidate not only before the first remote description but whenever its
// ufrag is not the current remote description's, and releases it when a
// description with its ufrag is applied: the gate closes again, for that
// candidate's session only, until its description arrives.
//
// A candidate that names no ufrag cannot be placed: it is held before the
// first remote description and passes after it.
package trickle

import (
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// maxHeld bounds the candidates a gate holds (the oldest is dropped first):
// a peer could otherwise grow it without bound with candidates of sessions
// that never come. A real session has a few candidates per interface.
const maxHeld = 256

// Gate holds remote ICE candidates until the remote description of their
// ICE session is applied. The connection's owner offers each candidate to
// [Gate.Hold] and adds it itself only when Hold declines; right after each
// successful SetRemoteDescription it calls [Gate.Open] with the
// description's SDP and adds the candidates Open returns:
//
//	if !g.Hold(c) {
//		return pc.AddICECandidate(c)
//	}
//	...
//	if err := pc.SetRemoteDescription(sd); err == nil {
//		for _, c := range g.Open(sd.SDP) {
//			_ = pc.AddICECandidate(c)
//		}
//	}
//
// The gate keeps its own state instead of asking the connection for its
// remote description, and it never calls out while locked, so its lock is
// a leaf: callers may hold their own locks around Hold and Open. A
// candidate Hold declines may reach the connection before those Open
// returned; ICE does not depend on the order of candidates.
//
// The zero Gate is closed and empty. A Gate must not be copied after first
// use. It is safe for concurrent use.
type Gate struct {
	mu    sync.Mutex
	open  bool   // a remote description was applied
	ufrag string // its ufrag ("" if it named none: every candidate passes)
	held  []heldCandidate
}

type heldCandidate struct {
	ufrag string
	c     webrtc.ICECandidateInit
}

// Hold keeps c, and reports true, unless the current remote description
// is c's session's (or c names no session and some description was
// applied); then it reports false and the caller adds c itself.
func (g *Gate) Hold(c webrtc.ICECandidateInit) bool {
	u := CandidateUfrag(c)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open && (u == "" || g.ufrag == "" || u == g.ufrag) {
		return false
	}
	if len(g.held) >= maxHeld {
		g.held = append(g.held[:0], g.held[1:]...)
	}
	g.held = append(g.held, heldCandidate{u, c})
	return true
}

// Open records that the remote description remoteSDP was applied and
// returns the held candidates of its session (and those naming none), in
// the order they were held; the caller adds them. Candidates of other
// sessions stay held: a later description may be theirs.
func (g *Gate) Open(remoteSDP string) []webrtc.ICECandidateInit {
	u := DescriptionUfrag(remoteSDP)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.ufrag = true, u
	var out []webrtc.ICECandidateInit
	keep := g.held[:0]
	for _, h := range g.held {
		if h.ufrag == "" || u == "" || h.ufrag == u {
			out = append(out, h.c)
		} else {
			keep = append(keep, h)
		}
	}
	clear(g.held[len(keep):])
	g.held = keep
	return out
}

// CandidateUfrag returns the username fragment of c's ICE session: its
// usernameFragment, else the "ufrag" extension of its candidate line
// (RFC 8839 §5.1: foundation component transport priority address port
// "typ" type, then name/value pairs), else "".
func CandidateUfrag(c webrtc.ICECandidateInit) string {
	if c.UsernameFragment != nil && *c.UsernameFragment != "" {
		return *c.UsernameFragment
	}
	f := strings.Fields(strings.TrimPrefix(c.Candidate, "candidate:"))
	if len(f) < 8 || f[6] != "typ" {
		return ""
	}
	for i := 8; i+1 < len(f); i += 2 {
		if f[i] == "ufrag" {
			return f[i+1]
		}
	}
	return ""
}

// DescriptionUfrag returns the first a=ice-ufrag of an SDP (RFC 8839
// §5.4), at session or media level, or "". With BUNDLE every media section
// carries the same one.
func DescriptionUfrag(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
