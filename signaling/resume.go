package signaling

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Session resume: a participant whose connection drops keeps its place for
// Config.ResumeWindow, and a new connection that presents its resume secret
// takes the place over without losing or repeating a message either way.
//
//   - The join answer carries a fresh resume secret: 32 bytes from
//     crypto/rand, base64url. The server keeps only its SHA-256 hash
//     (resumeHash), bound to the participant (and so to its room) in the
//     server's resumeRegistry. A secret resumes once: every resume answers
//     with a new one and retires the old.
//   - Every server → client message after the join answer carries seq (1,
//     2, …, per participant) and stays in the participant's outbox until
//     the client acknowledges it ("ack"), within Config.MaxOutbox messages
//     and Config.MaxOutboxBytes bytes. An outbox that overflows cannot be
//     replayed: the session is then not resumable (a disconnected one is
//     removed at once, as if its window ended).
//   - The server remembers the highest request id it processed from the
//     participant (lastID). A resume names the last seq the client
//     processed; the answer, "resumed", carries lastID, and the server then
//     replays every kept message after that seq. The client resends its
//     unanswered requests above lastID. So both directions are exactly
//     once.
//
// The dropped connection's requests and the resume are serialized by the
// participant's reqMu: the resume waits for a request being handled to
// finish, so lastID is final when the answer says it, and a connection
// that a resume replaced handles nothing more.

// resumeSecretLen is the length of a resume secret in bytes: 256 bits, so
// that guessing one is out of the question.
const resumeSecretLen = 32

// resumeHash is the SHA-256 hash of a resume secret, the only form in which
// the server keeps it.
type resumeHash [sha256.Size]byte

// resumeDomain separates resume secrets' hashes from any other SHA-256 use.
const resumeDomain = "tresor resume secret v1\x00"

func hashResumeSecret(secret []byte) resumeHash {
	h := sha256.New()
	h.Write([]byte(resumeDomain))
	h.Write(secret)
	var out resumeHash
	h.Sum(out[:0])
	return out
}

// resumeEncoding is base64url without padding; Strict rejects non-zero
// trailing bits, so each secret has exactly one text form.
var resumeEncoding = base64.RawURLEncoding.Strict()

// newResumeSecret returns a fresh secret in its text form and its hash.
func newResumeSecret() (string, resumeHash, error) {
	var b [resumeSecretLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", resumeHash{}, fmt.Errorf("signaling: resume secret: %w", err)
	}
	return resumeEncoding.EncodeToString(b[:]), hashResumeSecret(b[:]), nil
}

// parseResumeSecret decodes a resume secret's text form. The error never
// quotes the input.
func parseResumeSecret(s string) ([]byte, error) {
	if len(s) != resumeEncoding.EncodedLen(resumeSecretLen) {
		return nil, errors.New("missing or malformed resume secret")
	}
	b, err := resumeEncoding.DecodeString(s)
	if err != nil || len(b) != resumeSecretLen {
		return nil, errors.New("missing or malformed resume secret")
	}
	return b, nil
}

// Why a resume was refused: the class in the resume_failed message and
// the label of [Stats].ResumeFailures. None of them says anything about a
// secret but whether it works.
const (
	resumeUnknown   = "unknown"    // no such secret (never issued, or forgotten)
	resumeUsed      = "used"       // the secret was used already: a resume rotated it
	resumeExpired   = "expired"    // the resume window passed
	resumeWrongRoom = "wrong_room" // the secret belongs to another room
	resumeOverflow  = "overflow"   // the outbox overflowed: what was missed is gone
	resumeClosed    = "closed"     // the participant left, was removed or replaced, or the meeting ended
	resumeBadSeq    = "bad_seq"    // the seq names a message never sent, or one already acknowledged
)

var resumeMessages = map[string]string{
	resumeUnknown:   "unknown resume secret; join again",
	resumeUsed:      "this resume secret was already used; join again",
	resumeExpired:   "the resume window has passed; join again",
	resumeWrongRoom: "the resume secret is for another room; join again",
	resumeOverflow:  "too many messages were missed to resume; join again",
	resumeClosed:    "the session has ended; join again",
	resumeBadSeq:    "the resume names a message the server cannot replay from; join again",
}

// maxRetiredSecrets bounds how many retired secrets the registry remembers,
// only so that a failed resume can say why ("used", "expired") rather than
// "unknown". Past the bound the oldest are forgotten (and then "unknown"),
// so a client joining and leaving in a loop cannot grow it.
const maxRetiredSecrets = 8192

// resumeRegistry maps the hashes of live resume secrets to their
// participants, and remembers why recent ones were retired. Its mutex is a
// leaf lock (taken under a room's).
//
// Lookups are map lookups keyed by a SHA-256 hash: how long one takes can
// at most reveal something about the hash of a guess, never about a secret
// (the usual argument for comparing hashes); the final comparison is in
// constant time all the same (conn.resume).
type resumeRegistry struct {
	mu      sync.Mutex
	live    map[resumeHash]*participant
	retired map[resumeHash]string
	fifo    []resumeHash // retired, oldest first
}

func newResumeRegistry() *resumeRegistry {
	return &resumeRegistry{live: make(map[resumeHash]*participant), retired: make(map[resumeHash]string)}
}

func (g *resumeRegistry) add(h resumeHash, p *participant) {
	g.mu.Lock()
	g.live[h] = p
	g.mu.Unlock()
}

// retire forgets a live secret and remembers why, within the bound.
func (g *resumeRegistry) retire(h resumeHash, class string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.live[h]; !ok {
		return
	}
	delete(g.live, h)
	if len(g.fifo) >= maxRetiredSecrets {
		delete(g.retired, g.fifo[0])
		g.fifo = g.fifo[1:]
	}
	g.retired[h] = class
	g.fifo = append(g.fifo, h)
}

// lookup returns the participant a secret resumes, or why none.
func (g *resumeRegistry) lookup(h resumeHash) (*participant, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.live[h]; p != nil {
		return p, ""
	}
	if class, ok := g.retired[h]; ok {
		return nil, class
	}
	return nil, resumeUnknown
}

// keptMsg is one sequenced message in an outbox, as it was sent.
type keptMsg struct {
	seq  uint64
	data []byte
}

// keptMsgOverhead is the bookkeeping an outbox holds per message besides
// its bytes (a keptMsg), counted against Config.MaxOutboxBytes.
const keptMsgOverhead = 32

// outbox is a participant's side of the connection: the connection it has
// now (none while it reconnects), its sequence numbers and the messages not
// yet acknowledged. Its mutex is a leaf lock (taken under the room's);
// every message to the participant goes through send.
type outbox struct {
	mu       sync.Mutex
	c        *conn
	answered bool   // the join answer went out; later messages are sequenced
	secret   string // the resume secret for the join answer, until it is sent
	seq      uint64 // the last seq assigned
	acked    uint64 // the highest seq acknowledged (or named by a resume)
	kept     []keptMsg
	bytes    int  // of kept, with keptMsgOverhead each
	noKeep   bool // resume is off, the outbox overflowed, or the participant left
	overflow bool
}

// current reports whether c is the participant's connection now.
func (o *outbox) current(c *conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.c == c
}

// detach forgets c if it is the participant's connection, reporting
// whether it was. The caller holds the room's lock.
func (o *outbox) detach(c *conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.c != c {
		return false
	}
	o.c = nil
	return true
}

func (o *outbox) overflowed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overflow
}

// release drops the kept messages for good: the participant left.
func (o *outbox) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kept, o.bytes, o.noKeep = nil, 0, true
}

// ack drops the messages up to seq, which the client has processed.
func (o *outbox) ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if seq > o.seq {
		return fmt.Errorf("ack of seq %d, but the last message sent was %d", seq, o.seq)
	}
	o.dropUpTo(seq)
	return nil
}

func (o *outbox) dropUpTo(seq uint64) {
	if seq <= o.acked {
		return
	}
	o.acked = seq
	i := 0
	for i < len(o.kept) && o.kept[i].seq <= seq {
		o.bytes -= cap(o.kept[i].data) + keptMsgOverhead
		i++
	}
	// Shift rather than reslice, so that the backing array does not keep
	// acknowledged messages alive.
	n := copy(o.kept, o.kept[i:])
	clear(o.kept[n:])
	o.kept = o.kept[:n]
}

// send delivers m to the participant: sequenced, kept until acknowledged,
// and written to its connection if it has one. The first message a
// participant gets is its join answer (tryJoin sends nothing else to it
// first): it is not sequenced and carries the resume secret.
func (p *participant) send(m *message) {
	s := p.r.s
	o := &p.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.answered {
		o.answered = true
		if o.secret != "" {
			m.Resume, m.ResumeWindow = o.secret, s.cfg.ResumeWindow.Milliseconds()
			o.secret = ""
		}
		if o.c != nil {
			o.c.send(m)
		}
		return
	}
	m.Seq = ptr(o.seq + 1)
	b, err := encodeMessage(m)
	if err != nil {
		s.log.Error("signaling: dropping unencodable message", "type", m.Type, "err", err)
		return
	}
	o.seq++
	if !o.noKeep {
		o.kept = append(o.kept, keptMsg{seq: o.seq, data: b})
		o.bytes += cap(b) + keptMsgOverhead // what it holds, not just uses
		if len(o.kept) > s.cfg.MaxOutbox || o.bytes > s.cfg.MaxOutboxBytes {
			o.kept, o.bytes, o.noKeep, o.overflow = nil, 0, true, true
			s.stats.outboxOverflow()
			s.log.Warn("signaling: outbox overflowed; the session can no longer resume", "room", p.r.name, "connected", o.c != nil)
			if o.c == nil {
				// Away and missing messages for good: removed now, as if
				// its window ended. send may run under the room lock.
				go p.r.windowEnded(p, 0, resumeOverflow)
			}
		}
	}
	if o.c != nil {
		o.c.sendData(m.Type, b)
	}
}

// closeConn closes the participant's connection, if it has one, after the
// messages already queued.
func (p *participant) closeConn(code websocket.StatusCode, reason string) {
	p.out.mu.Lock()
	c := p.out.c
	p.out.mu.Unlock()
	if c != nil {
		c.closeWith(code, reason)
	}
}

// issueSecretLocked gives p a fresh resume secret for its join answer, if
// resume is on. The caller holds r.mu.
func (r *room) issueSecretLocked(p *participant, secret string, h resumeHash) {
	if r.s.cfg.ResumeWindow <= 0 {
		p.out.noKeep = true
		return
	}
	p.out.secret, p.hash, p.resumable = secret, h, true
	r.s.resumes.add(h, p)
}

// reconnectingLocked keeps p's place after its connection dropped: it
// stays in the roster (marked reconnecting), in the waiting room, in the
// MLS group and on the SFU for Config.ResumeWindow. The caller holds r.mu.
func (r *room) reconnectingLocked(p *participant) {
	p.reconnecting = true
	p.windowGen++
	gen := p.windowGen
	p.window = time.AfterFunc(r.s.cfg.ResumeWindow, func() { r.windowEnded(p, gen, resumeExpired) })
	r.ds.reconnecting(p)
	r.s.log.Info("signaling: connection lost, keeping the place", "room", r.name, "window", r.s.cfg.ResumeWindow)
	r.broadcastStateLocked() // the roster, or for moderators the waiting room
}

// windowEnded removes p if it is still away: its resume window passed
// (gen names the window), or its outbox overflowed while it was away (gen
// 0: any window).
func (r *room) windowEnded(p *participant, gen uint64, class string) {
	var fx effects
	r.mu.Lock()
	if !p.gone && p.reconnecting && (gen == 0 || gen == p.windowGen) {
		r.s.stats.windowExpired()
		r.s.log.Info("signaling: resume window ended, removing", "room", r.name, "why", class)
		p.endClass = class
		r.removeLocked(p, &fx)
	}
	r.mu.Unlock()
	fx.run()
}

// connEnded runs when c, p's connection, has ended. If the connection
// dropped (keep) and resume is possible, p keeps its place; otherwise p
// leaves now. Nothing happens if a resume gave p another connection.
func (r *room) connEnded(p *participant, c *conn, keep bool) {
	var fx effects
	r.mu.Lock()
	if !p.gone && p.out.detach(c) {
		if keep && p.resumable && !r.dead && !r.s.closing.Load() && !p.out.overflowed() {
			r.reconnectingLocked(p)
		} else {
			if p.out.overflowed() {
				p.endClass = resumeOverflow
			}
			r.removeLocked(p, &fx)
		}
	}
	r.mu.Unlock()
	fx.run()
}

// endSessionLocked retires p's resume secret and drops its outbox when it
// leaves the room for good. The caller holds r.mu.
func (r *room) endSessionLocked(p *participant) {
	if p.window != nil {
		p.window.Stop()
		p.window = nil
	}
	p.reconnecting = false
	if p.resumable {
		class := cmp.Or(p.endClass, resumeClosed)
		r.s.resumes.retire(p.hash, class)
		if p.hasPrev {
			// hasPrev stays: only the holder of both locks clears it.
			r.s.resumes.retire(p.prevHash, class)
		}
	}
	p.out.release()
}

// retirePrev retires the secret of the last resume once it is no longer
// needed: the client's first message on the resumed connection shows that
// it got the new one. The caller holds both p.reqMu and r.mu.
func (p *participant) retirePrev(class string) {
	if p.hasPrev {
		p.r.s.resumes.retire(p.prevHash, class)
		p.hasPrev = false
	}
}

// resumeFailure is a refused resume: a class (for Stats and the message)
// and its error.
func resumeFailure(class string) (*Error, string) {
	return errorf(CodeResumeFailed, "%s", resumeMessages[class]), class
}

// resume hands the participant whose secret m carries over to c: the old
// connection (if still open) is replaced, the answer "resumed" goes out with
// a new secret and lastID, then every kept message after m's seq, then
// whatever comes next. It returns a resume_failed error and its class when
// the secret does not resume anything.
func (c *conn) resume(m *message) (*Error, string) {
	s := c.s
	raw, err := parseResumeSecret(m.Resume)
	if err != nil {
		return resumeFailure(resumeUnknown) // validate let it through: cannot happen
	}
	h := hashResumeSecret(raw)
	p, class := s.resumes.lookup(h)
	if p == nil {
		return resumeFailure(class)
	}
	r := p.r
	if r.name != m.Room {
		return resumeFailure(resumeWrongRoom)
	}
	next, nextHash, err := newResumeSecret()
	if err != nil {
		s.log.Error("signaling: cannot resume", "room", r.name, "err", err)
		return errorf(CodeInternal, "cannot resume now"), "internal"
	}
	// Wait for the old connection's request in progress, if any, so that
	// lastID is final; from now on that connection handles nothing.
	p.reqMu.Lock()
	defer p.reqMu.Unlock()
	var fx effects
	defer func() { fx.run() }()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case p.gone:
		return resumeFailure(cmp.Or(p.endClass, resumeClosed))
	}
	cur := subtle.ConstantTimeCompare(p.hash[:], h[:]) == 1
	prev := p.hasPrev && subtle.ConstantTimeCompare(p.prevHash[:], h[:]) == 1
	if !cur && !prev {
		// Retired since the lookup: another resume used it first.
		return resumeFailure(resumeUsed)
	}
	seq := *m.Seq
	o := &p.out
	o.mu.Lock()
	switch {
	case o.overflow:
		o.mu.Unlock()
		return resumeFailure(resumeOverflow)
	case seq > o.seq || seq < o.acked:
		o.mu.Unlock()
		return resumeFailure(resumeBadSeq)
	}
	// Back: the answer shows it so (the others hear it below).
	away := p.reconnecting
	p.reconnecting = false
	o.dropUpTo(seq)
	answer := &message{Type: typeResumed, ID: m.ID, Resume: next, ResumeWindow: s.cfg.ResumeWindow.Milliseconds(), LastID: ptr(p.lastID)}
	if p.admitted {
		self := p.info()
		answer.Self, answer.State = &self, r.stateFor(p)
	} else {
		answer.Reason, answer.Rec = p.waitReason(), recStateField(r.rec)
	}
	first, err := encodeMessage(answer)
	if err != nil {
		p.reconnecting = away
		o.mu.Unlock()
		s.log.Error("signaling: cannot resume", "room", r.name, "err", err)
		return errorf(CodeInternal, "cannot resume now"), "internal"
	}
	replay := make([][]byte, 0, 1+len(o.kept))
	replay = append(replay, first)
	for _, k := range o.kept {
		replay = append(replay, k.data)
	}
	old := o.c
	c.setFront(replay)
	o.c = c
	o.mu.Unlock()

	// The secret presented stays valid until the client's first message
	// on this connection shows it got the new one (conn.process): if this
	// answer is lost with the connection, the client can only try again
	// with the same secret. The other one of the two is retired: either
	// it is older, or it went out in an answer that was lost.
	if cur {
		if p.hasPrev {
			s.resumes.retire(p.prevHash, resumeUsed)
		}
	} else {
		s.resumes.retire(p.hash, resumeUsed)
	}
	p.prevHash, p.hasPrev = h, true
	p.hash = nextHash
	s.resumes.add(nextHash, p)
	p.floor = p.lastID
	c.p = p
	if old != nil {
		// A resume replaces a connection still open, like a second join.
		old.send(&message{Type: typeError, Code: CodeReplaced, Message: "your session was resumed elsewhere"})
		old.closeWith(websocket.StatusPolicyViolation, "replaced")
	}
	if p.window != nil {
		p.window.Stop()
		p.window = nil
	}
	p.windowGen++
	if away {
		r.ds.resumed(p)
		r.broadcastStateLocked()
	}
	s.stats.resumed()
	s.log.Info("signaling: resumed", "room", r.name, "replayed", len(replay)-1, "replaced_open", old != nil)
	return nil, ""
}
