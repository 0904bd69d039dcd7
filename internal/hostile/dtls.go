package hostile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/srtp/v3"
)

// Session is what a DTLS 1.2 handshake (RFC 6347) between the SFU and one
// peer showed on the wire: the randoms, the cipher suite and the DTLS-SRTP
// profile (RFC 5764 §4.1.2). With the master secret (from the peer's key
// log) that is everything needed to derive the SRTP keys, exactly as both
// ends do.
type Session struct {
	PeerIsClient bool // the peer sent the ClientHello
	ClientRandom [32]byte
	ServerRandom [32]byte
	CipherSuite  uint16
	SRTPProfile  uint16
	HaveClient   bool
	HaveServer   bool
}

func (s *Session) observe(fromPeer bool, b []byte) {
	// A datagram may hold several records (RFC 6347 §4.1).
	for len(b) >= 13 {
		typ := b[0]
		n := int(binary.BigEndian.Uint16(b[11:13]))
		if len(b) < 13+n {
			return
		}
		epoch := binary.BigEndian.Uint16(b[3:5])
		rec := b[13 : 13+n]
		b = b[13+n:]
		// Only epoch 0 is in the clear: later handshake records
		// (Finished) are encrypted.
		if typ != 22 || epoch != 0 || len(rec) < 12 { // handshake
			continue
		}
		msg := rec[0]
		fragOff := uint32(rec[6])<<16 | uint32(rec[7])<<8 | uint32(rec[8])
		body := rec[12:]
		if fragOff != 0 || len(body) < 34 {
			continue
		}
		switch msg {
		case 1: // ClientHello: client_version, random
			copy(s.ClientRandom[:], body[2:34])
			s.PeerIsClient = fromPeer
			s.HaveClient = true
		case 2: // ServerHello
			copy(s.ServerRandom[:], body[2:34])
			s.HaveServer = true
			s.parseServerHello(body[34:])
		}
	}
}

// parseServerHello reads the cipher suite and the use_srtp extension
// (RFC 5764 §4.1.1) after the random.
func (s *Session) parseServerHello(b []byte) {
	if len(b) < 1 || len(b) < 1+int(b[0])+3 {
		return
	}
	b = b[1+int(b[0]):] // session_id
	s.CipherSuite = binary.BigEndian.Uint16(b)
	b = b[3:] // cipher suite, compression method
	if len(b) < 2 {
		return
	}
	b = b[2:]
	for len(b) >= 4 {
		typ, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return
		}
		data := b[4 : 4+n]
		b = b[4+n:]
		if typ == 14 && len(data) >= 4 { // use_srtp: profiles<2..>, mki<0..255>
			s.SRTPProfile = binary.BigEndian.Uint16(data[2:])
		}
	}
}

// prfHash is the PRF hash of a TLS 1.2 cipher suite (RFC 5246 §5: SHA-256
// unless the suite names SHA-384).
func prfHash(suite uint16) func() hash.Hash {
	switch suite {
	case 0xc02c, 0xc030, 0x009d, 0xc0a9:
		return sha512.New384
	}
	return sha256.New
}

// KeyLog collects the NSS key log lines ("CLIENT_RANDOM <hex> <hex>") that
// pion writes through SettingEngine.SetDTLSKeyLogWriter.
type KeyLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	secrets map[[32]byte][]byte
}

// NewKeyLog returns an empty key log.
func NewKeyLog() *KeyLog { return &KeyLog{secrets: map[[32]byte][]byte{}} }

// Write implements io.Writer.
func (k *KeyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.buf.Write(p)
	for {
		line, err := k.buf.ReadBytes('\n')
		if err != nil {
			// Keep the partial line for the next Write.
			rest := append([]byte(nil), line...)
			k.buf.Reset()
			k.buf.Write(rest)
			break
		}
		k.parse(line)
	}
	return len(p), nil
}

func (k *KeyLog) parse(line []byte) {
	sc := bufio.NewScanner(bytes.NewReader(line))
	sc.Split(bufio.ScanWords)
	var f []string
	for sc.Scan() {
		f = append(f, sc.Text())
	}
	if len(f) != 3 || f[0] != "CLIENT_RANDOM" {
		return
	}
	cr, err1 := hex.DecodeString(f[1])
	ms, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || len(cr) != 32 {
		return
	}
	k.secrets[[32]byte(cr)] = ms
}

// MasterSecret returns the master secret logged for a client random.
func (k *KeyLog) MasterSecret(clientRandom [32]byte) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ms, ok := k.secrets[clientRandom]
	return ms, ok
}

// Secrets returns every logged master secret.
func (k *KeyLog) Secrets() [][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out [][]byte
	for _, v := range k.secrets {
		out = append(out, v)
	}
	return out
}

// HopKeys are a session's SRTP master keys and salts (RFC 5764 §4.2).
type HopKeys struct {
	Profile               srtp.ProtectionProfile
	PeerKey, PeerSalt     []byte // what the peer encrypts with
	ServerKey, ServerSalt []byte // what the SFU encrypts with towards the peer
}

// Keys derives the session's SRTP keys from the master secret (RFC 5705
// exporter with label "EXTRACTOR-dtls_srtp", RFC 5764 §4.2).
func (s Session) Keys(master []byte) (*HopKeys, error) {
	if !s.HaveClient || !s.HaveServer {
		return nil, errors.New("hostile: handshake not seen")
	}
	profile := srtp.ProtectionProfile(s.SRTPProfile)
	keyLen, err := profile.KeyLen()
	if err != nil {
		return nil, fmt.Errorf("hostile: SRTP profile %#x: %w", s.SRTPProfile, err)
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return nil, err
	}
	seed := append([]byte("EXTRACTOR-dtls_srtp"), s.ClientRandom[:]...)
	seed = append(seed, s.ServerRandom[:]...)
	km, err := prf.PHash(master, seed, 2*keyLen+2*saltLen, prfHash(s.CipherSuite))
	if err != nil {
		return nil, err
	}
	ck, sk := km[:keyLen], km[keyLen:2*keyLen]
	cs, ss := km[2*keyLen:2*keyLen+saltLen], km[2*keyLen+saltLen:]
	h := &HopKeys{Profile: profile}
	if s.PeerIsClient {
		h.PeerKey, h.PeerSalt, h.ServerKey, h.ServerSalt = ck, cs, sk, ss
	} else {
		h.PeerKey, h.PeerSalt, h.ServerKey, h.ServerSalt = sk, ss, ck, cs
	}
	return h, nil
}

// Contexts returns fresh SRTP contexts for the two directions: one for what
// the peer sent the SFU, one for what the SFU sent the peer. They accept
// packets with and without RFC 9335 (Cryptex) header encryption. Contexts
// keep rollover and replay state: feed each one its direction's packets in
// order.
func (h *HopKeys) Contexts() (fromPeer, toPeer *srtp.Context, err error) {
	fromPeer, err = srtp.CreateContext(h.PeerKey, h.PeerSalt, h.Profile, srtp.Cryptex(srtp.CryptexModeEnabled))
	if err != nil {
		return nil, nil, err
	}
	toPeer, err = srtp.CreateContext(h.ServerKey, h.ServerSalt, h.Profile, srtp.Cryptex(srtp.CryptexModeEnabled))
	if err != nil {
		return nil, nil, err
	}
	return fromPeer, toPeer, nil
}

// IsCryptex reports whether an SRTP packet's header extensions are
// encrypted with Cryptex (RFC 9335 §5: profiles 0xC0DE and 0xC2DE).
func IsCryptex(profile uint16) bool { return profile == 0xc0de || profile == 0xc2de }
