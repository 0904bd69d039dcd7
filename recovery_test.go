package tresor

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/hostile"
	"github.com/tresor-dev/tresor/signaling"
)

// The victim of an outage binds its UDP sockets in this port range, below
// the kernel's ephemeral range (where every other socket of these tests
// lands), so that the SFU's socket can tell its datagrams apart: a network
// outage of one participant is every datagram to or from these ports
// dropped, whatever sockets the participant opens meanwhile.
const victimPortMin, victimPortMax = 21000, 21999

func victimPort(peer string) bool {
	_, port, err := net.SplitHostPort(peer)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= victimPortMin && p <= victimPortMax
}

// victimICE is the victim's pion settings: its own ports, and ICE timeouts
// that notice an outage within a second (disconnected after 1 s without
// anything received, failed 1 s later; keepalives every 250 ms). A 5 s
// outage thus fails ICE, after which pion never sends on the connection
// again: only an ICE restart brings media back. (With pion's default
// timeouts, 5 s and 25 s, a 5 s outage merely touches "disconnected" and
// the old candidate pair resumes by itself.)
func victimICE(se *webrtc.SettingEngine) {
	if err := se.SetEphemeralUDPPortRange(victimPortMin, victimPortMax); err != nil {
		panic(err)
	}
	se.SetICETimeouts(time.Second, time.Second, 250*time.Millisecond)
}

// outageRig is a meeting on the project's own server with a tap around the
// SFU's UDP socket, whose victim (the first member) can lose its network.
type outageRig struct {
	e       *env
	tap     *hostile.UDPTap
	victim  *client
	others  []*client
	senders map[string]*sender
}

func newOutageRig(t testing.TB, ctx context.Context, members int) *outageRig {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := hostile.NewUDPTap(conn)
	tap.SetRecord(false)
	r := &outageRig{e: newEnv(t, envConfig{sfuConn: tap}), tap: tap, senders: map[string]*sender{}}
	r.victim = r.e.join("victim", signaling.RoleHost, WithRekeyInterval(0), WithWebRTCAPI(loopbackAPI(t, victimICE)))
	for i := 1; i < members; i++ {
		r.others = append(r.others, r.e.join("m"+strconv.Itoa(i), signaling.RoleParticipant, WithRekeyInterval(0)))
	}
	all := r.all()
	converged(t, 20*time.Second, all...)
	for _, c := range all {
		r.senders[c.id] = c.publish(ctx, 20*time.Millisecond)
	}
	r.eventually(t, 20*time.Second, "media from everyone to everyone", func(rx, tx *client) bool {
		return len(rx.received(tx.id, "video")) >= 10 && len(rx.received(tx.id, "audio")) >= 10
	})
	return r
}

func (r *outageRig) all() []*client { return append([]*client{r.victim}, r.others...) }

// pairs is every (receiver, sender) pair that involves the victim.
func (r *outageRig) pairs() [][2]*client {
	var out [][2]*client
	for _, o := range r.others {
		out = append(out, [2]*client{r.victim, o}, [2]*client{o, r.victim})
	}
	return out
}

// eventually waits until cond holds for every pair of distinct members.
func (r *outageRig) eventually(t testing.TB, d time.Duration, what string, cond func(rx, tx *client) bool) {
	t.Helper()
	eventually(t, d, what, func() bool {
		for _, rx := range r.all() {
			for _, tx := range r.all() {
				if rx != tx && !cond(rx, tx) {
					return false
				}
			}
		}
		return true
	})
}

// counts is how many frames of each kind each pair involving the victim
// has delivered.
func (r *outageRig) counts() map[[3]string]int {
	out := map[[3]string]int{}
	for _, p := range r.pairs() {
		for _, kind := range []string{"audio", "video"} {
			out[[3]string{p[0].id, p[1].id, kind}] = len(p[0].received(p[1].id, kind))
		}
	}
	return out
}

// outage cuts the victim's network for d, checks that its media stopped
// both ways, restores the network and returns how long after that every
// pair involving the victim decrypted new frames of both kinds again.
func (r *outageRig) outage(t testing.TB, d time.Duration) time.Duration {
	t.Helper()
	r.tap.Block(victimPort)
	time.Sleep(d / 2)
	mid := r.counts()
	time.Sleep(d - d/2)
	for k, n := range r.counts() {
		if n != mid[k] {
			t.Fatalf("%s got %d %s frames from %s during the outage: the block leaks", k[0], n-mid[k], k[2], k[1])
		}
	}
	before := r.counts()
	r.tap.Block(nil)
	back := time.Now()
	deadline := back.Add(30 * time.Second)
	for {
		now := r.counts()
		done := true
		for k, n := range now {
			if n <= before[k] {
				done = false
			}
		}
		if done {
			return time.Since(back)
		}
		if time.Now().After(deadline) {
			for k, n := range now {
				if n <= before[k] {
					t.Errorf("%s got no %s frame from %s", k[0], k[2], k[1])
				}
			}
			t.Fatalf("media did not recover within 30 s of the network coming back")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// tracksFrom counts the remote tracks rx was ever given by publisher.
func tracksFrom(rx *client, publisher string) int {
	n := 0
	for _, ev := range eventsOf[*TrackAdded](rx) {
		if ev.Track.Participant() == publisher {
			n++
		}
	}
	return n
}

// TestMediaRecoversAfterOutage: a participant's network goes down for 5 s
// (every datagram to or from it dropped at the SFU's socket, both ways)
// while three members send audio and video; long enough for its ICE to
// fail. Its media comes back by ICE restart, both ways, without a new join:
// the same Meeting, the same MLS epoch and security code, the same remote
// tracks (no track is added again), and frames decrypt again to exactly
// what was sent.
func TestMediaRecoversAfterOutage(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	r := newOutageRig(t, ctx, 3)
	epoch, code := converged(t, 5*time.Second, r.all()...)
	meeting := r.victim.m
	tracks := map[[2]string]int{}
	for _, p := range r.pairs() {
		tracks[[2]string{p[0].id, p[1].id}] = tracksFrom(p[0], p[1].id)
	}

	rec := r.outage(t, 5*time.Second)
	t.Logf("media flows both ways %v after the network came back", rec.Round(time.Millisecond))

	if e, k := converged(t, time.Second, r.all()...); e != epoch || k != code {
		t.Errorf("epoch %d code %s after the outage, want %d %s: the group changed", e, k, epoch, code)
	}
	if r.victim.m != meeting || meeting.Self().Identity != "victim" {
		t.Error("the victim's meeting changed")
	}
	for _, p := range r.pairs() {
		if n := tracksFrom(p[0], p[1].id); n != tracks[[2]string{p[0].id, p[1].id}] {
			t.Errorf("%s was given %d tracks of %s, had %d before the outage: a track was published again",
				p[0].id, n, p[1].id, tracks[[2]string{p[0].id, p[1].id}])
		}
	}
	for _, ev := range eventsOf[*ParticipantLeft](r.others[0]) {
		t.Errorf("%s saw %s leave", r.others[0].id, ev.Member.Identity)
	}
	// Media keeps flowing, and every frame is what its sender wrote.
	after := r.counts()
	r.eventually(t, 10*time.Second, "more frames after recovery", func(rx, tx *client) bool {
		k := [3]string{rx.id, tx.id, "video"}
		return len(rx.received(tx.id, "video")) >= after[k]+20
	})
	for _, p := range r.pairs() {
		for _, kind := range []string{"audio", "video"} {
			checkFrames(t, p[0], r.senders[p[1].id], kind, 10)
		}
	}
	// The victim's remote video tracks asked for key frames on recovery.
	for _, ev := range eventsOf[*TrackAdded](r.victim) {
		if rt := ev.Track; rt.Kind() == "video" && rt.Stats().KeyFrameRequests == 0 {
			t.Errorf("the victim's video track from %s sent no key frame request", rt.Participant())
		}
	}
}

// BenchmarkICERecovery measures, in a meeting of two members sending audio
// and video, the time from a member's network coming back after a 5 s
// outage (long enough for its ICE to fail, see victimICE) until frames
// decrypt again both ways: recover-ms, the median of b.N outages (run it
// with -benchtime=Nx; each outage takes about 7 s), with the fastest and
// slowest.
func BenchmarkICERecovery(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newOutageRig(b, ctx, 2)
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := r.outage(b, 5*time.Second)
		all = append(all, d)
		if testing.Verbose() {
			b.Logf("outage %d: media back both ways %v after the network", i, d.Round(time.Millisecond))
		}
		b.StopTimer()
		time.Sleep(time.Second) // settle before the next outage
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "recover-ms")
	b.ReportMetric(float64(all[0].Microseconds())/1000, "recover-min-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "recover-max-ms")
	b.ReportMetric(0, "ns/op")
}
