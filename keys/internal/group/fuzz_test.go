package group

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Join after HPKE decryption is reachable by anyone who can send a
// Welcome: a KeyPackage's init key is public, so a hostile delivery
// service can encrypt GroupSecrets of its choosing to any uploaded
// KeyPackage and a GroupInfo under the welcome_secret of the joiner_secret
// it chose. FuzzJoinPlaintext therefore fuzzes the plaintexts, not the
// ciphertexts: it seals whatever GroupSecrets and GroupInfo bytes it is
// given into a Welcome to one of a fixed set of KeyPackages, exactly as a
// committer would (RFC 9420 §12.4.3.1), and runs Join on it. The server
// may even invite a joiner into a group it made up, whose members' keys it
// holds; fixup plays that part, so that mutations also get past the
// GroupInfo signature and the confirmation tag.

// fuzzJoiner is a KeyPackage a fuzzed Welcome is sealed to, with what
// Join needs to open it. Its secrets are rebuilt after a successful Join,
// which takes them over.
type fuzzJoiner struct {
	kp      *wire.KeyPackage
	ref     []byte
	sig     *suite.SignaturePrivateKey
	cfg     Config
	secrets func() (*KeyPackageSecrets, error)
	kps     *KeyPackageSecrets
}

// joinFuzz is the fixed world of FuzzJoinPlaintext: the joiners, the
// signing keys the harness knows (to play a hostile server that made up
// the whole group, see fixup), and the seeds.
type joinFuzz struct {
	s       *suite.Suite
	joiners []*fuzzJoiner
	signers map[string]*suite.SignaturePrivateKey // by public key
	seeds   []joinSeed
}

func (z *joinFuzz) known(sig *suite.SignaturePrivateKey) {
	if sig != nil {
		z.signers[string(sig.Public())] = sig
	}
}

// fuzzPSKID names the external PSK the fixed joiner holds, so that
// GroupSecrets naming it get past the PSK lookup.
var fuzzPSKID = []byte("fuzz psk")

// fixedJoiner returns a joiner whose keys all come from a fixed seed, so
// that a crasher found once reproduces in every later run.
func fixedJoiner(tb testing.TB, s *suite.Suite) *fuzzJoiner {
	seed := [32]byte{'j', 'o', 'i', 'n'}
	sig, err := s.GenerateSignatureKey(mrand.NewChaCha8(seed))
	if err != nil {
		tb.Fatal(err)
	}
	seed[31] = 1
	kp, _, err := NewKeyPackage(s, mrand.NewChaCha8(seed), sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("joiner")},
		time.Unix(0, 0), time.Unix(math.MaxInt32, 0))
	if err != nil {
		tb.Fatal(err)
	}
	j := &fuzzJoiner{kp: kp, sig: sig, cfg: Config{ExternalPSKs: map[string][]byte{string(fuzzPSKID): bytes.Repeat([]byte{7}, 32)}}}
	j.secrets = func() (*KeyPackageSecrets, error) {
		_, kps, err := NewKeyPackage(s, mrand.NewChaCha8(seed), sig, kp.LeafNode.Credential, time.Unix(0, 0), time.Unix(math.MaxInt32, 0))
		return kps, err
	}
	return j
}

// vectorJoiner returns the joiner of a passive-client or welcome vector.
func vectorJoiner(tb testing.TB, s *suite.Suite, kpMsg, sigPriv, initPriv, encPriv []byte, psks map[string][]byte) *fuzzJoiner {
	var m wire.MLSMessage
	if err := codec.Unmarshal(kpMsg, &m); err != nil || m.KeyPackage == nil {
		tb.Fatalf("key_package: %v", err)
	}
	j := &fuzzJoiner{kp: m.KeyPackage, cfg: Config{ExternalPSKs: psks}}
	var err error
	if sigPriv != nil {
		if j.sig, err = s.ParseSignaturePrivateKey(sigPriv); err != nil {
			tb.Fatal(err)
		}
	}
	j.secrets = func() (*KeyPackageSecrets, error) {
		init, err := s.ParseHPKEPrivateKey(initPriv)
		if err != nil {
			return nil, err
		}
		// welcome.json gives no leaf key (nor a tree, so its Welcome
		// fails before the leaf key matters): a stand-in.
		leafSeed := [32]byte{'l'}
		leaf, err := s.DeriveKeyPair(leafSeed[:])
		if encPriv != nil {
			leaf, err = s.ParseHPKEPrivateKey(encPriv)
		}
		return &KeyPackageSecrets{Init: init, Leaf: leaf}, err
	}
	return j
}

func (j *fuzzJoiner) reset(tb testing.TB, s *suite.Suite) {
	var err error
	if j.kps, err = j.secrets(); err != nil {
		tb.Fatal(err)
	}
	if j.ref, err = KeyPackageRef(s, j.kp); err != nil {
		tb.Fatal(err)
	}
}

// open decrypts a Welcome to j into the plaintexts the fuzzer mutates.
func (j *fuzzJoiner) open(tb testing.TB, s *suite.Suite, w *wire.Welcome) (gsBytes, giBytes []byte) {
	gs, err := OpenGroupSecrets(s, w, j.ref, j.kps.Init)
	if err != nil {
		tb.Fatal(err)
	}
	psk, err := computePSKSecret(s, &j.cfg, nil, gs.PSKs)
	if err != nil {
		tb.Fatal(err)
	}
	defer psk.Erase()
	joiner, err := schedule.NewJoinerSecret(s, gs.JoinerSecret)
	if err != nil {
		tb.Fatal(err)
	}
	defer joiner.Erase()
	gi, err := OpenGroupInfo(joiner, psk, w.EncryptedGroupInfo)
	if err != nil {
		tb.Fatal(err)
	}
	if gsBytes, err = codec.Marshal(gs); err != nil {
		tb.Fatal(err)
	}
	if giBytes, err = codec.Marshal(gi); err != nil {
		tb.Fatal(err)
	}
	return gsBytes, giBytes
}

// seal builds the Welcome a committer would send j for the plaintexts
// gsBytes and giBytes (RFC 9420 §12.4.3.1): the GroupInfo is sealed under
// the welcome key of the joiner_secret and PSKs that gsBytes names (if it
// names none that work, the GroupInfo bytes go out unencrypted and Join
// fails to open them), and gsBytes is encrypted to j's init key with the
// encrypted GroupInfo as context.
func (j *fuzzJoiner) seal(s *suite.Suite, gsBytes, giBytes []byte) (*wire.Welcome, error) {
	egi := giBytes
	var gs wire.GroupSecrets
	if codec.Unmarshal(gsBytes, &gs) == nil {
		if joiner, err := schedule.NewJoinerSecret(s, gs.JoinerSecret); err == nil {
			if psk, err := computePSKSecret(s, &j.cfg, nil, gs.PSKs); err == nil {
				if ws, err := joiner.WelcomeSecret(psk); err == nil {
					if egi, err = ws.SealGroupInfo(giBytes); err != nil {
						return nil, err
					}
					ws.Erase()
				}
				psk.Erase()
			}
			joiner.Erase()
		}
	}
	kem, ct, err := s.EncryptWithLabel(mrand.NewChaCha8([32]byte{'h', 'p', 'k', 'e'}), suite.HPKEPublicKey(j.kp.InitKey), "Welcome", egi, gsBytes)
	if err != nil {
		return nil, err
	}
	return &wire.Welcome{CipherSuite: wire.CipherSuite(s.ID()), EncryptedGroupInfo: egi,
		Secrets: []wire.EncryptedGroupSecrets{{NewMember: j.ref, EncryptedGroupSecrets: wire.HPKECiphertext{KEMOutput: kem, Ciphertext: ct}}}}, nil
}

// typedJoinError reports whether err wraps one of the errors Join may
// return (see errors.go).
func typedJoinError(err error) bool {
	for _, s := range []error{ErrAuthentication, ErrInvalid, ErrNotForUs, ErrUnsupported, codec.ErrMalformed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// joinSeed is one input of FuzzJoinPlaintext, and whether Join accepts it.
type joinSeed struct {
	who        uint8
	gs, gi, rt []byte
	ok         bool
}

// fuzzJoinSeeds returns the joiners and the seed corpus: the plaintexts of
// real Welcomes to the fixed joiner (from Commits adding it to groups of
// one and of three, with the tree in the GroupInfo or passed beside it),
// and of every suite-1 Welcome of the passive-client and welcome vectors.
func fuzzJoinSeeds(f testing.TB) *joinFuzz {
	s := suite1(f)
	own := fixedJoiner(f, s)
	own.reset(f, s)
	z := &joinFuzz{s: s, signers: map[string]*suite.SignaturePrivateKey{}}
	z.known(own.sig)
	joiners := []*fuzzJoiner{own}
	var seeds []joinSeed
	// add records a seed and whether Join accepts it; for the fixed
	// joiner, also the seed with fixupBit and whether Join accepts that.
	add := func(who int, gs, gi []byte, rt wire.RatchetTree, ok, fixedOK bool) {
		var rtBytes []byte
		if rt != nil {
			var err error
			if rtBytes, err = codec.Marshal(&rt); err != nil {
				f.Fatal(err)
			}
		}
		seeds = append(seeds, joinSeed{uint8(who), gs, gi, rtBytes, ok})
		if who == 0 {
			// The same, repaired by the harness (a no-op but for the
			// confirmation tag of GroupSecrets with a made-up PSK).
			seeds = append(seeds, joinSeed{uint8(who) | fixupBit, gs, gi, rtBytes, fixedOK})
		}
	}

	// Real Welcomes from deterministic groups.
	rnd := mrand.NewChaCha8([32]byte{'g', 'r', 'o', 'u', 'p'})
	cfg := Config{Rand: rnd}
	member := func(name string) (*suite.SignaturePrivateKey, wire.Credential) {
		sig, err := s.GenerateSignatureKey(rnd)
		if err != nil {
			f.Fatal(err)
		}
		z.known(sig)
		return sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte(name)}
	}
	for _, size := range []int{1, 3} {
		sig, cred := member("alice")
		st, err := Create(s, cfg, sig, cred, []byte(fmt.Sprintf("fuzz group %d", size)))
		if err != nil {
			f.Fatal(err)
		}
		committer, committerSig := st, sig
		if size > 1 {
			var kps []*wire.KeyPackage
			var secrets []*KeyPackageSecrets
			var sigs []*suite.SignaturePrivateKey
			for i := 1; i < size; i++ {
				msig, mcred := member(fmt.Sprint("member ", i))
				kp, sec, err := NewKeyPackage(s, rnd, msig, mcred, time.Unix(0, 0), time.Unix(math.MaxInt32, 0))
				if err != nil {
					f.Fatal(err)
				}
				kps, secrets, sigs = append(kps, kp), append(secrets, sec), append(sigs, msig)
			}
			p, err := st.CreateCommit(kps, nil)
			if err != nil {
				f.Fatal(err)
			}
			if err := st.MergePending(); err != nil {
				f.Fatal(err)
			}
			var m wire.MLSMessage
			if err := codec.Unmarshal(p.Welcome, &m); err != nil {
				f.Fatal(err)
			}
			// The last member commits the fixed joiner's Add, so that its
			// path secret is for a node above the joiner's leaf, not the
			// root.
			last := len(kps) - 1
			if committer, err = Join(s, cfg, sigs[last], kps[last], secrets[last], m.Welcome, nil); err != nil {
				f.Fatal(err)
			}
			committerSig = sigs[last]
		}
		p, err := committer.CreateCommit([]*wire.KeyPackage{own.kp}, nil)
		if err != nil {
			f.Fatal(err)
		}
		var m wire.MLSMessage
		if err := codec.Unmarshal(p.Welcome, &m); err != nil {
			f.Fatal(err)
		}
		gs, gi := own.open(f, s, m.Welcome)
		add(0, gs, gi, nil, true, true)
		// The same GroupInfo without the ratchet_tree extension, signed
		// again, with the tree passed beside the Welcome.
		var info wire.GroupInfo
		if err := codec.Unmarshal(gi, &info); err != nil {
			f.Fatal(err)
		}
		var rt wire.RatchetTree
		if err := codec.Unmarshal(info.Extensions[0].Data, &rt); err != nil {
			f.Fatal(err)
		}
		info.Extensions = []wire.Extension{}
		if err := SignGroupInfo(s, &info, committerSig); err != nil {
			f.Fatal(err)
		}
		bare, err := codec.Marshal(&info)
		if err != nil {
			f.Fatal(err)
		}
		add(0, gs, bare, rt, true, true)
		// GroupSecrets naming the external PSK the joiner holds.
		var secrets wire.GroupSecrets
		if err := codec.Unmarshal(gs, &secrets); err != nil {
			f.Fatal(err)
		}
		secrets.PSKs = []wire.PreSharedKeyID{{Type: wire.PSKExternal, PSKID: fuzzPSKID, PSKNonce: make([]byte, 32)}}
		withPSK, err := codec.Marshal(&secrets)
		if err != nil {
			f.Fatal(err)
		}
		add(0, withPSK, gi, nil, false, true)
	}

	// The vectors' Welcomes, opened with their joiners' keys.
	for _, name := range []string{"passive-client-welcome", "passive-client-handling-commit", "passive-client-random"} {
		var all []passiveVector
		vectors.Load(f, name, &all)
		for i := range all {
			v := &all[i]
			if v.Suite != 1 {
				continue
			}
			psks := map[string][]byte{}
			for _, p := range v.ExternalPSKs {
				psks[string(p.ID)] = p.PSK
			}
			j := vectorJoiner(f, s, v.KeyPackage, v.SignaturePriv, v.InitPriv, v.EncryptionPriv, psks)
			j.reset(f, s)
			z.known(j.sig)
			joiners = append(joiners, j)
			var m wire.MLSMessage
			if err := codec.Unmarshal(v.Welcome, &m); err != nil {
				f.Fatal(err)
			}
			gs, gi := j.open(f, s, m.Welcome)
			var rt wire.RatchetTree
			if v.RatchetTree != nil {
				if err := codec.Unmarshal(v.RatchetTree, &rt); err != nil {
					f.Fatal(err)
				}
			}
			add(len(joiners)-1, gs, gi, rt, true, true)
		}
	}
	var wv []struct {
		Suite      uint16           `json:"cipher_suite"`
		InitPriv   vectors.HexBytes `json:"init_priv"`
		KeyPackage vectors.HexBytes `json:"key_package"`
		Welcome    vectors.HexBytes `json:"welcome"`
	}
	vectors.Load(f, "welcome", &wv)
	for _, v := range wv {
		if v.Suite != 1 {
			continue
		}
		j := vectorJoiner(f, s, v.KeyPackage, nil, v.InitPriv, nil, nil)
		j.reset(f, s)
		joiners = append(joiners, j)
		var m wire.MLSMessage
		if err := codec.Unmarshal(v.Welcome, &m); err != nil {
			f.Fatal(err)
		}
		gs, gi := j.open(f, s, m.Welcome)
		add(len(joiners)-1, gs, gi, nil, false, false)
	}
	if len(joiners) > fixupBit {
		f.Fatalf("%d joiners do not fit in the joiner byte", len(joiners))
	}
	z.joiners, z.seeds = joiners, seeds
	return z
}

// fixupBit in FuzzJoinPlaintext's joiner byte asks the harness to repair
// the GroupInfo before sealing it (see fixup).
const fixupBit = 0x80

// fixup plays a hostile server that invites the joiner into a group it made
// up, with members whose keys it holds: after the fuzzer's mutations it
// signs again every leaf of the tree whose signature key it knows, sets
// the GroupContext's tree_hash to the tree's, recomputes the confirmation
// tag from the joiner_secret and PSKs of gsBytes, and signs the GroupInfo
// again if it knows the signer's key. Everything a Join checks after the
// signatures is then reachable by mutation. Each step is skipped when its
// input does not decode; unchanged input comes out unchanged (Ed25519 is
// deterministic).
func (z *joinFuzz) fixup(j *fuzzJoiner, gsBytes, giBytes, rtBytes []byte) (gi, rt []byte) {
	var info wire.GroupInfo
	if codec.Unmarshal(giBytes, &info) != nil {
		return giBytes, rtBytes
	}
	rtBytes = z.fixupInfo(j, gsBytes, &info, rtBytes)
	enc, err := codec.Marshal(&info)
	if err != nil {
		return giBytes, rtBytes
	}
	return enc, rtBytes
}

// fixupInfo is fixup on a decoded GroupInfo, which it changes in place. It
// returns the ratchet tree to pass beside the Welcome.
func (z *joinFuzz) fixupInfo(j *fuzzJoiner, gsBytes []byte, info *wire.GroupInfo, rtBytes []byte) []byte {
	s := z.s
	gc := &info.GroupContext
	var tr wire.RatchetTree
	inGI := slices.IndexFunc(info.Extensions, func(e wire.Extension) bool { return e.Type == wire.ExtensionRatchetTree })
	if inGI >= 0 {
		if codec.Unmarshal(info.Extensions[inGI].Data, &tr) != nil {
			tr = nil
		}
	} else if codec.Unmarshal(rtBytes, &tr) != nil {
		tr = nil
	}
	for i, n := range tr {
		if i%2 != 0 || n == nil || n.Type != wire.NodeTypeLeaf || n.Leaf == nil {
			continue
		}
		if key := z.signers[string(n.Leaf.SignatureKey)]; key != nil {
			_ = SignLeafNode(s, n.Leaf, key, gc.GroupID, uint32(i/2))
		}
	}
	var signer *suite.SignaturePrivateKey
	if tr != nil {
		enc, err := codec.Marshal(&tr)
		if err != nil {
			return rtBytes
		}
		if inGI >= 0 {
			info.Extensions[inGI].Data = enc
		} else {
			rtBytes = enc
		}
		if t, err := tree.FromRatchetTree(s, slices.Clone(tr)); err == nil {
			if th, err := t.TreeHash(); err == nil {
				gc.TreeHash = th
			}
		}
		if l := 2 * uint64(info.Signer); l < uint64(len(tr)) && tr[l] != nil && tr[l].Leaf != nil {
			signer = z.signers[string(tr[l].Leaf.SignatureKey)]
		}
	}
	var secrets wire.GroupSecrets
	if codec.Unmarshal(gsBytes, &secrets) == nil {
		if tag, err := confirmationTag(s, &j.cfg, &secrets, gc); err == nil {
			info.ConfirmationTag = tag
		}
	}
	if signer != nil {
		_ = SignGroupInfo(s, info, signer)
	}
	return rtBytes
}

// confirmationTag computes the confirmation tag a GroupInfo for gc must
// carry, from the joiner_secret and PSKs of gs (RFC 9420 §8, §12.4.3.1).
func confirmationTag(s *suite.Suite, cfg *Config, gs *wire.GroupSecrets, gc *wire.GroupContext) ([]byte, error) {
	joiner, err := schedule.NewJoinerSecret(s, gs.JoinerSecret)
	if err != nil {
		return nil, err
	}
	defer joiner.Erase()
	psk, err := computePSKSecret(s, cfg, nil, gs.PSKs)
	if err != nil {
		return nil, err
	}
	defer psk.Erase()
	gcBytes, err := codec.Marshal(gc)
	if err != nil {
		return nil, err
	}
	es, err := joiner.EpochSecret(psk, gcBytes)
	if err != nil {
		return nil, err
	}
	ep, err := es.Derive()
	es.Erase()
	if err != nil {
		return nil, err
	}
	defer ep.Erase()
	defer ep.Init.Erase()
	return ep.ConfirmationTag(gc.ConfirmedTranscriptHash)
}

// join seals the plaintexts into a Welcome to the joiner the joiner byte
// picks, after fixup if the byte asks for it, and runs Join.
func (z *joinFuzz) join(t *testing.T, who uint8, gs, gi, rtBytes []byte) (*fuzzJoiner, *State, error) {
	j := z.joiners[int(who&^fixupBit)%len(z.joiners)]
	if who&fixupBit != 0 {
		gi, rtBytes = z.fixup(j, gs, gi, rtBytes)
	}
	var rt wire.RatchetTree
	if len(rtBytes) > 0 && codec.Unmarshal(rtBytes, &rt) != nil {
		rt = nil // the tree must then be in the GroupInfo
	}
	w, err := j.seal(z.s, gs, gi)
	if err != nil {
		t.Fatalf("sealing: %v", err)
	}
	st, err := Join(z.s, j.cfg, j.sig, j.kp, j.kps, w, rt)
	if err == nil {
		// Join took the KeyPackage's secrets over: the next input needs
		// new ones.
		t.Cleanup(func() { st.Erase() })
		j.reset(t, z.s)
	}
	return j, st, err
}

// joinPlaintext is the body of FuzzJoinPlaintext. It reports whether Join
// succeeded.
func (z *joinFuzz) joinPlaintext(t *testing.T, who uint8, gs, gi, rtBytes []byte) bool {
	j, st, err := z.join(t, who, gs, gi, rtBytes)
	if err != nil {
		if !typedJoinError(err) {
			t.Fatalf("untyped error: %v", err)
		}
		if !bytes.Equal(j.kps.Init.Public(), j.kp.InitKey) {
			t.Fatal("a failed Join changed the init key")
		}
		return false
	}
	th, err := st.Tree().TreeHash()
	if err != nil || !bytes.Equal(th, st.GroupContext().TreeHash) {
		t.Fatalf("joined a tree whose hash is not the GroupContext's (%v)", err)
	}
	if err := st.priv.Check(st.Tree()); err != nil {
		t.Fatalf("private tree does not match the joined tree: %v", err)
	}
	return true
}

// TestJoinPlaintextSeeds checks FuzzJoinPlaintext's machinery: each seed
// made from a real Welcome, sealed again by the target (and repaired by
// fixup, which must change nothing), is accepted by Join, so the fuzzer
// starts from inputs that reach the end of Join. The exceptions fail where
// they must: GroupSecrets naming a PSK the committer did not use (the
// confirmation tag; with fixup, which recomputes the tag, they join), and
// the welcome.json Welcome, which comes without its tree.
func TestJoinPlaintextSeeds(t *testing.T) {
	z := fuzzJoinSeeds(t)
	var joined, failed int
	for i, sd := range z.seeds {
		if got := z.joinPlaintext(t, sd.who, sd.gs, sd.gi, sd.rt); got != sd.ok {
			t.Errorf("seed %d (joiner byte %#x): joined = %v, want %v", i, sd.who, got, sd.ok)
		}
		if sd.ok {
			joined++
		} else {
			failed++
		}
	}
	if joined < 25 {
		t.Fatalf("only %d seeds join", joined)
	}
	t.Logf("%d seeds join, %d fail as they should", joined, failed)

	// fixup gets a changed GroupContext past the signature and the
	// confirmation tag.
	sd := z.seeds[0]
	var info wire.GroupInfo
	if err := codec.Unmarshal(sd.gi, &info); err != nil {
		t.Fatal(err)
	}
	info.GroupContext.Epoch += 41
	gi, err := codec.Marshal(&info)
	if err != nil {
		t.Fatal(err)
	}
	if z.joinPlaintext(t, sd.who, sd.gs, gi, sd.rt) {
		t.Fatal("joined a GroupInfo changed after its signature")
	}
	if !z.joinPlaintext(t, sd.who|fixupBit, sd.gs, gi, sd.rt) {
		t.Fatal("fixup did not repair a changed GroupContext")
	}
}

// FuzzJoinPlaintext seals fuzzed GroupSecrets, GroupInfo and (optionally)
// ratchet tree bytes into a Welcome to one of the joiners (picked by the
// joiner byte, whose fixupBit has the harness repair the signatures, tree
// hash and confirmation tag first) and runs Join: nothing may panic, every
// failure wraps a sentinel and leaves the KeyPackage's secrets usable, and
// a Join that succeeds gives a State whose tree hashes to the
// GroupContext's tree_hash and matches the member's private keys.
func FuzzJoinPlaintext(f *testing.F) {
	z := fuzzJoinSeeds(f)
	for _, sd := range z.seeds {
		f.Add(sd.who, sd.gs, sd.gi, sd.rt)
	}
	f.Fuzz(func(t *testing.T, who uint8, gs, gi, rtBytes []byte) {
		z.joinPlaintext(t, who, gs, gi, rtBytes)
	})
}
