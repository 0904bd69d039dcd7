package keys

import (
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"

	"github.com/tresor-dev/tresor/keys/internal/treemath"
)

var benchSizes = []int{10, 100, 1000}

// benchGroup is a group of n members seen by two real members, A (leaf 0,
// the committer) and B (leaf 1, the receiver). The other members exist as
// leaves whose keys the benchmark generated.
type benchGroup struct {
	n    int
	ids  []*Identity
	a, b *Group
	cfg  *Config // nil, or the members' vouched configuration
}

type benchKey struct {
	n       int
	vouched bool
}

var (
	benchMu     sync.Mutex
	benchGroups = map[benchKey]*benchGroup{}
)

// getBenchGroup builds (once per size) a group whose tree is in the steady
// state of a long meeting: A adds everyone in one Commit, then every odd
// leaf commits an update, so that every parent node is set and no leaf is
// unmerged. Commits from the members whose states the benchmark does not
// keep are made by a copy of A's state acting for them
// (group.State.TestingOnlyImpersonate); A and B process each one.
func getBenchGroup(b *testing.B, n int) *benchGroup { return getBenchGroupCfg(b, n, false) }

// getBenchGroupCfg is getBenchGroup, with every member vouched for by a
// test backend and checked under its Authority if vouched is set.
func getBenchGroupCfg(b *testing.B, n int, vouched bool) *benchGroup {
	benchMu.Lock()
	defer benchMu.Unlock()
	key := benchKey{n, vouched}
	if g := benchGroups[key]; g != nil {
		return g
	}
	g := &benchGroup{n: n, ids: make([]*Identity, n)}
	var bk *backend
	if vouched {
		bk = newBackend(b)
		g.cfg = bk.cfg()
	}
	for i := range g.ids {
		if vouched {
			g.ids[i] = bk.vouch(b, fmt.Sprintf("member-%d", i))
		} else {
			g.ids[i] = newIdentity(b, fmt.Sprintf("member-%d", i))
		}
	}
	var err error
	if g.a, err = NewGroup(g.ids[0], g.cfg); err != nil {
		b.Fatal(err)
	}
	var add [][]byte
	var kp1 *KeyPackage
	for i := 1; i < n; i++ {
		kp := keyPackageCfg(b, g.ids[i], g.cfg)
		if i == 1 {
			kp1 = kp
		}
		add = append(add, kp.Bytes())
	}
	c, err := g.a.CreateCommit(add, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := g.a.MergePendingCommit(); err != nil {
		b.Fatal(err)
	}
	if g.b, err = Join(g.ids[1], kp1, c.Welcome, g.cfg); err != nil {
		b.Fatal(err)
	}
	for l := 1; l < n; l += 2 {
		var msg []byte
		if l == 1 {
			c, err := g.b.CreateCommit(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := g.b.MergePendingCommit(); err != nil {
				b.Fatal(err)
			}
			msg = c.Message
		} else {
			ph := g.a.st.TestingOnlyImpersonate(treemath.LeafIndex(l), g.ids[l].key)
			p, err := ph.CreateCommit(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			msg = p.Commit
			ph.ClearPending()
			mustProcess(b, g.b, msg)
		}
		mustProcess(b, g.a, msg)
	}
	if g.a.Epoch() != g.b.Epoch() || len(g.a.Members()) != n {
		b.Fatal("bench group out of step")
	}
	benchGroups[key] = g
	return g
}

// BenchmarkResync measures a resync (RFC 9420 §12.4.3.2) in a vouched
// group of N=20: B, which lost its state, creates an external Commit from
// A's GroupInfo (JoinExternal: the GroupInfo's checks, every leaf's
// assertion among them, ExternalInit, the UpdatePath), and A processes it.
// Each iteration runs the whole resync; the sub-benchmark times one side.
func BenchmarkResync(b *testing.B) {
	const n = 20
	for _, side := range []string{"JoinExternal", "Process"} {
		b.Run(fmt.Sprintf("%s/N=%d", side, n), func(b *testing.B) {
			g := getBenchGroupCfg(b, n, true)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				b.StopTimer()
				gi, err := g.a.GroupInfo()
				if err != nil {
					b.Fatal(err)
				}
				if side == "JoinExternal" {
					b.StartTimer()
				}
				nb, c, err := JoinExternal(g.ids[1], gi, g.cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				size = len(c.Message)
				if side == "Process" {
					b.StartTimer()
				}
				m := mustProcess(b, g.a, c.Message)
				b.StopTimer()
				if !m.External {
					b.Fatal("not an external Commit")
				}
				if err := nb.MergePendingCommit(); err != nil {
					b.Fatal(err)
				}
				g.b.Close()
				g.b = nb
				b.StartTimer()
			}
			b.ReportMetric(float64(size), "commit-bytes")
		})
	}
}

// BenchmarkCommitRemove measures A creating a Commit that removes one
// member (with A's UpdatePath) in a group of N; commit-bytes is the size of
// the Commit message.
func BenchmarkCommitRemove(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			g := getBenchGroup(b, n)
			victim := uint32(n - 1)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				c, err := g.a.CreateCommit(nil, []uint32{victim})
				if err != nil {
					b.Fatal(err)
				}
				size = len(c.Message)
				g.a.ClearPendingCommit()
			}
			b.ReportMetric(float64(size), "commit-bytes")
		})
	}
}

// BenchmarkProcessCommit measures B processing A's Commit that removes one
// member in a group of N. Between iterations (untimed) A adds the member
// back, so that every iteration sees a group of N.
func BenchmarkProcessCommit(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			g := getBenchGroup(b, n)
			victim := n - 1
			b.ReportAllocs()
			var size int
			for b.Loop() {
				b.StopTimer()
				c, err := g.a.CreateCommit(nil, []uint32{uint32(victim)})
				if err != nil {
					b.Fatal(err)
				}
				if err := g.a.MergePendingCommit(); err != nil {
					b.Fatal(err)
				}
				size = len(c.Message)
				b.StartTimer()
				mustProcess(b, g.b, c.Message)
				b.StopTimer()
				readd, err := g.a.CreateCommit([][]byte{keyPackage(b, g.ids[victim]).Bytes()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.a.MergePendingCommit(); err != nil {
					b.Fatal(err)
				}
				mustProcess(b, g.b, readd.Message)
				b.StartTimer()
			}
			b.ReportMetric(float64(size), "commit-bytes")
		})
	}
}

// BenchmarkPairwiseRekey is the baseline MLS replaces: the committer seals
// a fresh 32-byte key to each of the N−1 other members with HPKE (RFC 9180
// base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM: the KEM
// and AEAD of MLS suite 1, via circl).
func BenchmarkPairwiseRekey(b *testing.B) {
	s := hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES128GCM)
	scheme := hpke.KEM_X25519_HKDF_SHA256.Scheme()
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			pubs := make([]kem.PublicKey, n-1)
			for i := range pubs {
				pk, _, err := scheme.GenerateKeyPair()
				if err != nil {
					b.Fatal(err)
				}
				pubs[i] = pk
			}
			key := make([]byte, 32)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				if _, err := rand.Read(key); err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, pk := range pubs {
					snd, err := s.NewSender(pk, []byte("tresor pairwise rekey"))
					if err != nil {
						b.Fatal(err)
					}
					enc, sealer, err := snd.Setup(rand.Reader)
					if err != nil {
						b.Fatal(err)
					}
					ct, err := sealer.Seal(key, nil)
					if err != nil {
						b.Fatal(err)
					}
					size += len(enc) + len(ct)
				}
			}
			b.ReportMetric(float64(size), "rekey-bytes")
		})
	}
}
