package tresor

// The hostile-server suite: the project's own signaling server and SFU run
// in-process behind taps (a WebSocket proxy in front of signaling, a wrapper
// around the SFU's UDP socket) that record and may rewrite everything the
// server handles, and the tests prove the threat model of doc.go against it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/internal/hostile"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

type hostileEnv struct {
	*env
	tap   *hostile.UDPTap
	proxy *hostile.Proxy
}

func newHostileEnv(t testing.TB) *hostileEnv {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileEnv{tap: hostile.NewUDPTap(conn)}
	h.env = newEnv(t, envConfig{sfuConn: h.tap, handler: func(e *env) string {
		h.proxy = hostile.NewProxy(e.url)
		phs := httptest.NewServer(h.proxy)
		t.Cleanup(phs.Close)
		return "ws" + strings.TrimPrefix(phs.URL, "http")
	}})
	return h
}

// clientLogs is what a test learns from inside one client: every SFrame
// base key it installed, the secrets of every epoch it entered, its DTLS
// master secrets, and the encrypted frames it received.
type clientLogs struct {
	dtls *hostile.KeyLog

	mu     sync.Mutex
	sframe []loggedKey
	epochs []loggedSecret
	raw    []rawFrame
}

// loggedSecret is one secret of the MLS key schedule (RFC 9420 §8) as
// internal/testonly.EpochSecrets names it.
type loggedSecret struct {
	epoch  uint64
	name   string
	secret []byte
}

type loggedKey struct {
	epoch uint64
	key   keys.SFrameKey
}

type rawFrame struct {
	from  string
	codec e2ee.Codec
	data  []byte
}

func (l *clientLogs) keys() []loggedKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedKey(nil), l.sframe...)
}

func (l *clientLogs) secrets() []loggedSecret {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedSecret(nil), l.epochs...)
}

func (l *clientLogs) frames() []rawFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rawFrame(nil), l.raw...)
}

func (h *hostileEnv) joinLogged(id string, role signaling.Role, opts ...Option) (*client, *clientLogs) {
	h.t.Helper()
	l := &clientLogs{dtls: hostile.NewKeyLog()}
	api := loopbackAPI(h.t, func(se *webrtc.SettingEngine) { se.SetDTLSKeyLogWriter(l.dtls) })
	hook := func(o *options) {
		o.keyLog = func(epoch uint64, k core.SFrameKey) {
			l.mu.Lock()
			l.sframe = append(l.sframe, loggedKey{epoch, keys.SFrameKey{Leaf: k.Leaf, KID: k.KID, BaseKey: bytes.Clone(k.BaseKey)}})
			l.mu.Unlock()
		}
		// Called on the goroutine that owns the group, each time the
		// client enters an epoch.
		o.epochLog = func(epoch uint64, secrets map[string][]byte) {
			l.mu.Lock()
			for name, s := range secrets {
				l.epochs = append(l.epochs, loggedSecret{epoch, name, s})
			}
			l.mu.Unlock()
		}
		o.rawFrame = func(from string, c e2ee.Codec, data []byte) {
			l.mu.Lock()
			l.raw = append(l.raw, rawFrame{from, c, bytes.Clone(data)})
			l.mu.Unlock()
		}
	}
	return h.join(id, role, append([]Option{WithWebRTCAPI(api), hook}, opts...)...), l
}

// waitFrames waits until every client got n frames of each kind from every
// other sender.
func waitFrames(t testing.TB, d time.Duration, n int, cs []*client, ss []*sender) {
	t.Helper()
	eventually(t, d, "frames from everyone", func() bool {
		for _, rx := range cs {
			for _, tx := range ss {
				if rx.id == tx.id {
					continue
				}
				for _, kind := range []string{"audio", "video"} {
					if len(rx.received(tx.id, kind)) < n {
						return false
					}
				}
			}
		}
		return true
	})
}

// waitEpochFrames waits until every client decrypted a frame of epoch ≥
// epoch from each other sender's audio.
func waitEpochFrames(t testing.TB, d time.Duration, epoch uint64, cs []*client, ss []*sender) {
	t.Helper()
	eventually(t, d, "frames of the new epoch", func() bool {
		for _, rx := range cs {
			for _, tx := range ss {
				if rx.id == tx.id {
					continue
				}
				if e, ok := rx.lastEpoch(tx.id, "audio"); !ok || e < epoch {
					return false
				}
			}
		}
		return true
	})
}

// TestHostileServerSeesOnlyCiphertext: three clients, two epochs, and the
// server's whole view recorded. Every client decrypts every other client's
// frames byte for byte; no SFrame base key or key-schedule secret
// (exporter, sender data, confirmation, membership, resumption, external,
// epoch authenticator) of any epoch, no identity's private key, no security
// code and no plaintext appears in any WebSocket message or UDP datagram
// (nor a key or secret in the clients' logs), nor in the RTP payloads
// once the hop-by-hop SRTP is removed with the SFU's own keys; every RTP
// payload between one client and the SFU reassembles into SFrame
// ciphertext that only the group's keys open; and no key the server holds
// (SRTP master keys and salts, DTLS master secrets) opens a recorded frame.
func TestHostileServerSeesOnlyCiphertext(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	var cs []*client
	var ls []*clientLogs
	var ss []*sender
	var logBuf lockedBuffer
	var seeds [][]byte
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i, id := range []string{"alice", "bob", "carol"} {
		role := signaling.RoleParticipant
		if i == 0 {
			role = signaling.RoleHost
		}
		// The identity's signing key comes from a reader that remembers
		// what it handed out, so the test can look for the private key.
		var seed bytes.Buffer
		ident, err := keys.NewIdentity(io.TeeReader(rand.Reader, &seed), id)
		if err != nil {
			t.Fatal(err)
		}
		if seed.Len() < 32 {
			t.Fatalf("identity key from %d random bytes", seed.Len())
		}
		seeds = append(seeds, seed.Bytes())
		c, l := h.joinLogged(id, role, WithLogger(logger.With("client", id)), WithIdentity(ident))
		cs, ls = append(cs, c), append(ls, l)
		ss = append(ss, c.publish(ctx, frameInterval))
	}
	epoch, _ := converged(t, 10*time.Second, cs...)
	waitFrames(t, 15*time.Second, 10, cs, ss)
	// A second epoch: the periodic Update, triggered now.
	if _, err := cs[1].m.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	epoch2, _ := converged(t, 10*time.Second, cs...)
	if epoch2 != epoch+1 {
		t.Fatalf("epoch %d after rekey, want %d", epoch2, epoch+1)
	}
	waitEpochFrames(t, 10*time.Second, epoch2, cs, ss)
	for _, s := range ss {
		s.halt()
	}
	for _, rx := range cs {
		for _, tx := range ss {
			if rx.id != tx.id {
				checkFrames(t, rx, tx, "audio", 10)
				checkFrames(t, rx, tx, "video", 10)
			}
		}
	}

	// Everything the server received or sent.
	var hay [][]byte
	for _, m := range h.proxy.Messages() {
		hay = append(hay, hostile.Binaries(m.Data)...)
	}
	wsHay := hay[:len(hay):len(hay)] // the WebSocket messages and their decoded strings
	dgs := h.tap.Datagrams()
	for _, d := range dgs {
		hay = append(hay, d.Data)
	}
	// Alice's two connections, decrypted with the SFU's hop keys.
	wire := analyzeWire(t, h.tap, ls[0], dgs)
	hay = append(hay, wire.payloads...)
	if len(wire.frames) < 40 {
		t.Fatalf("only %d SFrame frames reassembled from alice's SRTP", len(wire.frames))
	}

	var secrets int
	for _, l := range ls {
		for _, k := range l.keys() {
			secrets++
			for _, b := range hay {
				if bytes.Contains(b, k.key.BaseKey) {
					t.Fatalf("SFrame base key of leaf %d, epoch %d found in server traffic", k.key.Leaf, k.epoch)
				}
			}
		}
	}
	if secrets < 3*3*2 {
		t.Fatalf("only %d SFrame keys logged", secrets)
	}
	// Nor any secret of the key schedule of any epoch a client went through
	// (exporter, sender data, confirmation, membership, resumption,
	// external, epoch authenticator, the SFrame exporter output), raw in
	// any message or datagram, or hex-encoded in a WebSocket message.
	epochSecrets := 0
	for i, l := range ls {
		seen := map[uint64]int{}
		for _, s := range l.secrets() {
			if len(s.secret) < 16 {
				t.Fatalf("%s: %s of epoch %d has only %d bytes", cs[i].id, s.name, s.epoch, len(s.secret))
			}
			seen[s.epoch]++
			epochSecrets++
			for _, b := range hay {
				if bytes.Contains(b, s.secret) {
					t.Fatalf("%s of epoch %d (from %s) found in server traffic", s.name, s.epoch, cs[i].id)
				}
			}
			hx := []byte(hex.EncodeToString(s.secret))
			for _, b := range wsHay {
				if bytes.Contains(b, hx) {
					t.Fatalf("%s of epoch %d (from %s) found hex-encoded in a WebSocket message", s.name, s.epoch, cs[i].id)
				}
			}
		}
		// Every client went through both epochs of the test, each with
		// the eight secrets the hook returns.
		if seen[epoch] < 8 || seen[epoch2] < 8 {
			t.Fatalf("%s: %d secrets of epoch %d and %d of epoch %d logged", cs[i].id, seen[epoch], epoch, seen[epoch2], epoch2)
		}
	}
	// Nor any identity's private signing key.
	for _, seed := range seeds {
		for _, b := range hay {
			if bytes.Contains(b, seed[:32]) {
				t.Fatal("an identity's private key appears in server traffic")
			}
		}
	}
	// Nor in the clients' own logs, in any encoding.
	logText := logBuf.Bytes()
	if len(logText) == 0 {
		t.Fatal("the clients logged nothing")
	}
	for _, l := range ls {
		for _, k := range l.keys() {
			for _, enc := range [][]byte{k.key.BaseKey, []byte(hex.EncodeToString(k.key.BaseKey)), []byte(base64.StdEncoding.EncodeToString(k.key.BaseKey))} {
				if bytes.Contains(logText, enc) {
					t.Fatal("an SFrame key appears in a client's log")
				}
			}
		}
		for _, s := range l.secrets() {
			for _, enc := range [][]byte{s.secret, []byte(hex.EncodeToString(s.secret)), []byte(base64.StdEncoding.EncodeToString(s.secret))} {
				if bytes.Contains(logText, enc) {
					t.Fatalf("%s of epoch %d appears in a client's log", s.name, s.epoch)
				}
			}
		}
	}
	// The security codes are derived from the epoch secret: the server
	// never sees them either.
	for _, c := range cs {
		_, code, _ := c.m.SecurityCode()
		for _, b := range hay {
			if bytes.Contains(b, []byte(code)) || bytes.Contains(b, []byte(strings.ReplaceAll(code, " ", ""))) {
				t.Fatal("a security code appears in server traffic")
			}
		}
	}
	for _, b := range hay {
		if bytes.Contains(b, plainMarker) {
			t.Fatal("plaintext media found in server traffic")
		}
	}

	// No key the server holds opens a recorded frame.
	serverKeys := wire.hopKeys
	serverKeys = append(serverKeys, ls[0].dtls.Secrets()...)
	for i, f := range wire.frames {
		if i >= 20 {
			break
		}
		kid, ok := frameKID(f.codec, f.data)
		if !ok {
			t.Fatal("recorded frame without an SFrame header")
		}
		for _, k := range serverKeys {
			r, err := e2ee.NewReceiver(e2ee.Config{})
			if err != nil {
				t.Fatal(err)
			}
			bk := k
			if len(bk) < e2ee.MinBaseKeySize {
				bk = append(bytes.Clone(bk), make([]byte, e2ee.MinBaseKeySize-len(bk))...)
			}
			if err := r.Add(kid, bk); err != nil {
				t.Fatal(err)
			}
			if _, err := r.DecryptFrame(nil, f.codec, f.data); !errors.Is(err, e2ee.ErrAuthentication) {
				t.Fatalf("a server key opened a frame (err %v)", err)
			}
		}
	}
	t.Logf("checked %d SFrame keys and %d epoch secrets against %d server messages/datagrams; %d RTP payloads decrypted from SRTP, %d SFrame frames reassembled and opened with group keys",
		secrets, epochSecrets, len(hay)-len(wire.payloads), len(wire.payloads), len(wire.frames))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

type wireResult struct {
	payloads [][]byte   // RTP payloads after SRTP decryption
	frames   []rawFrame // reassembled SFrame frames
	hopKeys  [][]byte
}

// analyzeWire decrypts, with pion/srtp and the hop keys derived from the
// DTLS handshakes seen on the SFU's socket and the client's master secrets,
// every RTP packet between that client and the SFU; it reassembles frames
// and checks each is SFrame ciphertext that opens, under the group's keys
// only, to exactly the frame a test sender wrote.
func analyzeWire(t *testing.T, tap *hostile.UDPTap, l *clientLogs, dgs []hostile.Datagram) wireResult {
	t.Helper()
	var res wireResult
	peers := map[string]*hostile.HopKeys{}
	for _, d := range dgs {
		if _, done := peers[d.Peer]; done {
			continue
		}
		s, ok := tap.Session(d.Peer)
		if !ok {
			continue
		}
		ms, ok := l.dtls.MasterSecret(s.ClientRandom)
		if !ok {
			continue // another client's connection
		}
		hk, err := s.Keys(ms)
		if err != nil {
			t.Fatal(err)
		}
		peers[d.Peer] = hk
		res.hopKeys = append(res.hopKeys, hk.PeerKey, hk.PeerSalt, hk.ServerKey, hk.ServerSalt)
	}
	if len(peers) != 2 {
		t.Fatalf("found %d DTLS sessions of the client on the SFU's socket, want 2 (publish, subscribe)", len(peers))
	}
	// Every group key the client ever held opens the frames.
	group := func() *e2ee.Receiver {
		r, err := e2ee.NewReceiver(e2ee.Config{ReplayWindow: 4096})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range l.keys() {
			if err := r.Add(k.key.KID, k.key.BaseKey); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	type stream struct {
		sb    *samplebuilder.SampleBuilder
		codec e2ee.Codec
	}
	for peer, hk := range peers {
		from, to, err := hk.Contexts()
		if err != nil {
			t.Fatal(err)
		}
		streams := map[[2]uint32]*stream{}
		recv := map[bool]*e2ee.Receiver{false: group(), true: group()}
		var rtpCount int
		for _, d := range dgs {
			if d.Peer != peer || !hostile.IsRTP(d.Data) {
				continue
			}
			var hdr rtp.Header
			if _, err := hdr.Unmarshal(d.Data); err != nil {
				t.Fatal(err)
			}
			ctx := from
			if d.Out {
				ctx = to
			}
			plain, err := ctx.DecryptRTP(nil, d.Data, &hdr)
			if err != nil {
				t.Fatalf("SRTP packet (out=%v) did not decrypt with the hop keys: %v", d.Out, err)
			}
			var p rtp.Packet
			if err := p.Unmarshal(plain); err != nil {
				t.Fatal(err)
			}
			rtpCount++
			if len(p.Payload) == 0 {
				continue
			}
			res.payloads = append(res.payloads, bytes.Clone(p.Payload))
			dir := uint32(0)
			if d.Out {
				dir = 1
			}
			key := [2]uint32{dir, p.SSRC}
			st := streams[key]
			if st == nil {
				switch p.PayloadType {
				case 111:
					st = &stream{samplebuilder.New(256, &codecs.OpusPacket{}, 48000), e2ee.CodecOpus}
				case 96:
					st = &stream{samplebuilder.New(256, &codecs.VP8Packet{}, 90000), e2ee.CodecVP8}
				default:
					t.Fatalf("unexpected payload type %d", p.PayloadType)
				}
				streams[key] = st
			}
			st.sb.Push(&p)
			for s := st.sb.Pop(); s != nil; s = st.sb.Pop() {
				res.frames = append(res.frames, rawFrame{codec: st.codec, data: bytes.Clone(s.Data)})
				if _, ok := frameKID(st.codec, s.Data); !ok {
					t.Fatal("reassembled frame has no SFrame header")
				}
				pt, err := recv[d.Out].DecryptFrame(nil, st.codec, s.Data)
				if err != nil {
					t.Fatalf("reassembled frame does not open with the group's keys: %v", err)
				}
				i := bytes.Index(pt, plainMarker)
				if i < 0 {
					t.Fatal("decrypted frame is not a test frame")
				}
				id := string(senderIDAt(pt[i+len(plainMarker):]))
				kind := "video"
				if st.codec == e2ee.CodecOpus {
					kind = "audio"
				}
				if !bytes.Equal(pt, testFrame(id, kind, frameSeq(pt))) {
					t.Fatalf("frame on the wire from %s decrypts to something else than was sent", id)
				}
			}
		}
		if rtpCount == 0 {
			continue
		}
	}
	return res
}

// senderIDAt returns the sender ID at the start of b (testFrame ends it
// with a zero byte).
func senderIDAt(b []byte) []byte {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return b[:n]
}

// srtpHook rewrites the SFU's SRTP to one client: it decrypts each RTP
// packet with the SFU's own hop keys, lets tamper change the RTP packet,
// and re-encrypts it, as a malicious SFU could.
type srtpHook struct {
	t      *testing.T
	tap    *hostile.UDPTap
	logs   *clientLogs
	tamper func(p *rtp.Packet) bool // true: the packet was changed

	mu  sync.Mutex
	ctx map[string][3]*srtp.Context // peer → decrypt, encrypt, encrypt with Cryptex
}

func (s *srtpHook) onWrite(peer string, b []byte) [][]byte {
	if !hostile.IsRTP(b) {
		return [][]byte{b}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ctx[peer]
	if !ok {
		sess, ok := s.tap.Session(peer)
		if !ok {
			return [][]byte{b}
		}
		ms, ok := s.logs.dtls.MasterSecret(sess.ClientRandom)
		if !ok {
			s.ctx[peer] = [3]*srtp.Context{} // another client
			return [][]byte{b}
		}
		hk, err := sess.Keys(ms)
		if err != nil {
			return [][]byte{b}
		}
		// Re-encrypt as the SFU did: with Cryptex (RFC 9335) exactly
		// when the original packet used it.
		dec, err1 := srtp.CreateContext(hk.ServerKey, hk.ServerSalt, hk.Profile, srtp.Cryptex(srtp.CryptexModeEnabled))
		enc, err2 := srtp.CreateContext(hk.ServerKey, hk.ServerSalt, hk.Profile)
		encX, err3 := srtp.CreateContext(hk.ServerKey, hk.ServerSalt, hk.Profile, srtp.Cryptex(srtp.CryptexModeEnabled))
		if err1 != nil || err2 != nil || err3 != nil {
			return [][]byte{b}
		}
		c = [3]*srtp.Context{dec, enc, encX}
		s.ctx[peer] = c
	}
	if c[0] == nil {
		return [][]byte{b}
	}
	var hdr rtp.Header
	if _, err := hdr.Unmarshal(b); err != nil {
		return [][]byte{b}
	}
	plain, err := c[0].DecryptRTP(nil, b, &hdr)
	if err != nil {
		return [][]byte{b}
	}
	var p rtp.Packet
	if err := p.Unmarshal(plain); err != nil {
		return [][]byte{b}
	}
	enc := c[1]
	if hostile.IsCryptex(hdr.ExtensionProfile) {
		enc = c[2]
	}
	if !s.tamper(&p) {
		// Keep the encrypting context's rollover state in step.
		if _, err := enc.EncryptRTP(nil, plain, &p.Header); err != nil {
			return [][]byte{b}
		}
		return [][]byte{b}
	}
	raw, err := p.Marshal()
	if err != nil {
		return [][]byte{b}
	}
	out, err := enc.EncryptRTP(nil, raw, &p.Header)
	if err != nil {
		return [][]byte{b}
	}
	return [][]byte{out}
}

// TestHostileServerTamperedFramesRejected: the SFU, holding its hop keys,
// modifies, replays and injects audio frames towards bob. Bob rejects and
// counts every one and delivers only frames exactly as sent, each once.
func TestHostileServerTamperedFramesRejected(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, bobLogs := h.joinLogged("bob", signaling.RoleParticipant)
	cs := []*client{alice, bob}
	converged(t, 10*time.Second, cs...)
	sa := alice.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 10, []*client{bob}, []*sender{sa})

	var mu sync.Mutex
	var n, modified, replayed, injected int
	var old [][]byte
	hook := &srtpHook{t: t, tap: h.tap, logs: bobLogs, ctx: map[string][3]*srtp.Context{}, tamper: func(p *rtp.Packet) bool {
		if p.PayloadType != 111 || len(p.Payload) < 20 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if len(old) < 50 {
			old = append(old, bytes.Clone(p.Payload))
		}
		switch {
		case n%9 == 3: // modify one ciphertext byte
			p.Payload = bytes.Clone(p.Payload)
			p.Payload[len(p.Payload)/2] ^= 0x40
			modified++
		case n%9 == 6 && len(old) > 5: // replay an earlier frame
			p.Payload = bytes.Clone(old[len(old)-5])
			replayed++
		case n%9 == 0: // inject a forged frame under alice's KID
			forged := bytes.Clone(p.Payload)
			hdr := 1 + int(forged[0]>>4&7) + 1 + int(forged[0]&7) + 1
			rand.Read(forged[min(hdr, len(forged)-1):])
			p.Payload = forged
			injected++
		default:
			return false
		}
		return true
	}}
	before := bob.m.Stats()
	h.tap.OnWrite(hook.onWrite)
	eventually(t, 15*time.Second, "tampering", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return modified >= 10 && replayed >= 10 && injected >= 10
	})
	h.tap.OnWrite(nil)
	time.Sleep(200 * time.Millisecond)
	sa.halt()
	after := bob.m.Stats()
	mu.Lock()
	defer mu.Unlock()
	authFailed := after.AuthFailed - before.AuthFailed
	replays := after.Replayed - before.Replayed
	if authFailed < uint64(modified+injected) {
		t.Errorf("bob counted %d authentication failures for %d modified and %d injected frames", authFailed, modified, injected)
	}
	if replays < uint64(replayed) {
		t.Errorf("bob counted %d replays for %d replayed frames", replays, replayed)
	}
	checkFrames(t, bob, sa, "audio", 10)
	checkFrames(t, bob, sa, "video", 10)
	bob.mu.Lock()
	dups := bob.dups
	bob.mu.Unlock()
	if dups != 0 {
		t.Errorf("bob got %d frames twice", dups)
	}
	t.Logf("modified %d, replayed %d, injected %d; bob rejected %d (auth) + %d (replay)", modified, replayed, injected, authFailed, replays)
}

// keysOpen reports whether any of ks opens frame f: under its own KID and,
// to be thorough, under f's KID.
func keysOpen(t *testing.T, ks []loggedKey, f rawFrame) bool {
	t.Helper()
	kid, ok := frameKID(f.codec, f.data)
	if !ok {
		t.Fatal("frame without SFrame header")
	}
	for _, k := range ks {
		for _, id := range []uint64{k.key.KID, kid} {
			r, err := e2ee.NewReceiver(e2ee.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Add(id, k.key.BaseKey); err != nil {
				t.Fatal(err)
			}
			if _, err := r.DecryptFrame(nil, f.codec, f.data); err == nil {
				return true
			}
		}
	}
	return false
}

// TestRemovedAndJoinerCannotDecrypt: dave joins, then the host removes
// carol. No key carol ever held opens a frame sent after her removal, and no
// key dave ever held opens a frame sent before his join; the members' keys
// open both.
func TestRemovedAndJoinerCannotDecrypt(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, aliceLogs := h.joinLogged("alice", signaling.RoleHost)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant)
	carol, carolLogs := h.joinLogged("carol", signaling.RoleParticipant)
	before, _ := converged(t, 10*time.Second, alice, bob, carol)
	sb := bob.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 10, []*client{alice}, []*sender{sb})

	dave, daveLogs := h.joinLogged("dave", signaling.RoleParticipant)
	joined, _ := converged(t, 10*time.Second, alice, bob, carol, dave)
	waitEpochFrames(t, 10*time.Second, joined, []*client{alice}, []*sender{sb})

	if err := alice.m.Signaling().Remove(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	removed, _ := converged(t, 10*time.Second, alice, bob, dave)
	if removed <= joined {
		t.Fatalf("no new epoch after the removal (%d)", removed)
	}
	waitEpochFrames(t, 10*time.Second, removed, []*client{alice}, []*sender{sb})
	time.Sleep(100 * time.Millisecond)
	sb.halt()

	epochOf := func(f rawFrame) uint64 {
		kid, _ := frameKID(f.codec, f.data)
		return kid & (1<<keys.SFrameEpochBits - 1)
	}
	var oldFrames, newFrames []rawFrame
	for _, f := range aliceLogs.frames() {
		switch e := epochOf(f); {
		case e == before&0xff:
			oldFrames = append(oldFrames, f)
		case e == removed&0xff:
			newFrames = append(newFrames, f)
		}
	}
	if len(oldFrames) < 5 || len(newFrames) < 5 {
		t.Fatalf("recorded %d frames before dave's join and %d after carol's removal", len(oldFrames), len(newFrames))
	}
	for _, k := range carolLogs.keys() {
		if k.epoch >= removed {
			t.Fatalf("carol holds a key of epoch %d, after her removal", k.epoch)
		}
	}
	for _, k := range daveLogs.keys() {
		if k.epoch < joined {
			t.Fatalf("dave holds a key of epoch %d, before his join", k.epoch)
		}
	}
	for _, f := range newFrames {
		if keysOpen(t, carolLogs.keys(), f) {
			t.Fatal("a key of the removed member opens a frame of the new epoch")
		}
		if !keysOpen(t, aliceLogs.keys(), f) {
			t.Fatal("a member's keys do not open a frame of the new epoch")
		}
	}
	for _, f := range oldFrames {
		if keysOpen(t, daveLogs.keys(), f) {
			t.Fatal("a key of the joiner opens a frame sent before its join")
		}
	}
	if _, _, err := carol.m.SecurityCode(); err == nil {
		t.Error("carol still has a security code after her removal")
	}
	eventually(t, 5*time.Second, "carol's meeting ends", func() bool { return errors.Is(carol.m.Err(), ErrRemoved) })
	t.Logf("epochs: %d before dave, %d with dave, %d after carol's removal; %d old and %d new frames checked", before, joined, removed, len(oldFrames), len(newFrames))
}

// rewriteJSON applies f to a server message of type typ.
func rewriteJSON(msg []byte, typ string, f func(m map[string]any)) []byte {
	var m map[string]any
	if json.Unmarshal(msg, &m) != nil || m["type"] != typ {
		return msg
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return out
}

// TestHostileServerHidesCommit: the server withholds an Update Commit from
// carol. If it tells the truth about the epoch, carol sees she fell behind
// and resyncs by herself with an external Commit from the GroupInfo alice
// published (RFC 9420 §12.4.3.2): everyone agrees again and media flows
// both ways. If it also lies about the epoch, carol cannot know; her
// security code then differs from the others', and both sides report it:
// alice's frames carry keys carol does not have, and carol's frames keys
// alice erased.
func TestHostileServerHidesCommit(t *testing.T) {
	for _, lie := range []bool{false, true} {
		t.Run(map[bool]string{false: "honest-epoch", true: "lying-epoch"}[lie], func(t *testing.T) {
			testHiddenCommit(t, lie)
		})
	}
}

func testHiddenCommit(t *testing.T, lieAboutEpoch bool) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant)
	carol, _ := h.joinLogged("carol", signaling.RoleParticipant)
	cs := []*client{alice, bob, carol}
	epoch, _ := converged(t, 10*time.Second, cs...)
	sa := alice.publish(ctx, frameInterval)
	sc := carol.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 5, []*client{alice, carol}, []*sender{sa, sc})

	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() != "carol" {
			return [][]byte{msg}
		}
		if bytes.Contains(msg, []byte(`"type":"commit"`)) {
			return nil
		}
		if lieAboutEpoch {
			msg = rewriteJSON(msg, "state", func(m map[string]any) {
				if st, ok := m["state"].(map[string]any); ok {
					st["epoch"] = epoch
				}
			})
		}
		return [][]byte{msg}
	})
	if _, err := alice.m.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	newEpoch, code := convergedN(t, 10*time.Second, 3, alice, bob)
	if newEpoch != epoch+1 {
		t.Fatalf("alice and bob at epoch %d, want %d", newEpoch, epoch+1)
	}
	if !lieAboutEpoch {
		// Carol resyncs: one more epoch, the same code for all three,
		// and frames sent after it decrypt both ways.
		eventually(t, 10*time.Second, "carol's resync", func() bool { return len(eventsOf[*Resynced](carol)) == 1 })
		after, resynced := convergedN(t, 10*time.Second, 3, alice, bob, carol)
		if after != newEpoch+1 || resynced == code {
			t.Fatalf("after the resync: epoch %d (want %d)", after, newEpoch+1)
		}
		waitEpochFrames(t, 15*time.Second, after, []*client{alice, carol}, []*sender{sa, sc})
		sa.halt()
		sc.halt()
		return
	}
	eventually(t, 10*time.Second, "mismatch events", func() bool {
		var carolSees, aliceSees bool
		for _, ev := range eventsOf[*Mismatch](carol) {
			carolSees = carolSees || (ev.Kind == MismatchKeys && len(ev.Participants) == 1 && ev.Participants[0] == "alice")
		}
		for _, ev := range eventsOf[*Mismatch](alice) {
			aliceSees = aliceSees || (ev.Kind == MismatchKeys && len(ev.Participants) == 1 && ev.Participants[0] == "carol")
		}
		return carolSees && aliceSees
	})
	e, carolCode, err := carol.m.SecurityCode()
	if err != nil {
		t.Fatal(err)
	}
	if e != epoch || carolCode == code {
		t.Fatalf("carol at epoch %d with code %q; the others at %d with %q", e, carolCode, newEpoch, code)
	}
	for _, ev := range eventsOf[*Mismatch](carol) {
		if ev.Kind == MismatchEpoch {
			t.Fatal("carol saw the server's real epoch although it lied")
		}
	}
	sa.halt()
	sc.halt()
}

// TestHostileServerAnnouncesPhantom: the server tells carol that "mallory"
// is a group member. The MLS roster has no mallory, everyone's security code
// still agrees, and carol reports the roster mismatch naming mallory.
func TestHostileServerAnnouncesPhantom(t *testing.T) {
	goroutineLeakCheck(t)
	h := newHostileEnv(t)
	phantom := map[string]any{"identity": "mallory", "name": "Mallory", "role": "participant", "member": true,
		"permissions": map[string]any{"camera": true, "microphone": true, "screen": false}}
	addPhantom := func(st any) {
		if s, ok := st.(map[string]any); ok {
			ps, _ := s["participants"].([]any)
			s["participants"] = append(ps, phantom)
		}
	}
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() != "carol" {
			return [][]byte{msg}
		}
		msg = rewriteJSON(msg, "state", func(m map[string]any) { addPhantom(m["state"]) })
		msg = rewriteJSON(msg, "joined", func(m map[string]any) { addPhantom(m["state"]) })
		return [][]byte{msg}
	})
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant)
	carol, _ := h.joinLogged("carol", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob, carol)
	eventually(t, 10*time.Second, "roster mismatch at carol", func() bool {
		for _, ev := range eventsOf[*Mismatch](carol) {
			if ev.Kind == MismatchRoster && len(ev.Participants) == 1 && ev.Participants[0] == "mallory" {
				return true
			}
		}
		return false
	})
	for _, m := range carol.m.Members() {
		if m.Identity == "mallory" {
			t.Fatal("the phantom is in carol's MLS roster")
		}
	}
	for _, c := range []*client{alice, bob} {
		if evs := eventsOf[*Mismatch](c); len(evs) != 0 {
			t.Errorf("%s reported a mismatch on an honest view: %+v", c.id, evs[0])
		}
	}
}

// TestHostileServerRelabelsTrack: the server presents alice's track to
// carol as bob's. Carol decrypts a track only with its claimed publisher's
// keys, so she accepts none of its frames as bob's, counts them, and
// reports that "bob's" frames carry keys she does not have.
func TestHostileServerRelabelsTrack(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() == "carol" && bytes.Contains(msg, []byte(`"type":"media"`)) {
			msg = bytes.ReplaceAll(msg, []byte("msid:alice "), []byte("msid:bob "))
		}
		return [][]byte{msg}
	})
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant)
	carol, _ := h.joinLogged("carol", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob, carol)
	sa := alice.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 10, []*client{bob}, []*sender{sa})
	eventually(t, 10*time.Second, "carol reports bob's frames", func() bool {
		for _, ev := range eventsOf[*Mismatch](carol) {
			if ev.Kind == MismatchKeys && len(ev.Participants) == 1 && ev.Participants[0] == "bob" {
				return true
			}
		}
		return false
	})
	sa.halt()
	if got := len(carol.received("bob", "video")) + len(carol.received("bob", "audio")) + len(carol.received("alice", "video")); got != 0 {
		t.Fatalf("carol accepted %d relabelled frames", got)
	}
	if st := carol.m.Stats(); st.Rejected() < 10 || st.Decrypted != 0 {
		t.Fatalf("carol's counters: %+v", st)
	}
	checkFrames(t, bob, sa, "video", 10)
}
