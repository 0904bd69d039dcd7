package tresor

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/internal/keyring"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

// audioSender publishes a microphone track and writes test frames every
// interval until stopped (lighter than sender, for large meetings).
func (c *client) audioSender(ctx context.Context, b testing.TB, interval time.Duration) *sender {
	b.Helper()
	s := &sender{id: c.id, stop: make(chan struct{}), sent: map[string]map[uint32]bool{"audio": {}}, tracks: map[string]*LocalTrack{}}
	lt, err := c.m.Publish(ctx, signaling.SourceMicrophone)
	if err != nil {
		b.Fatalf("%s: publish: %v", c.id, err)
	}
	s.tracks["audio"] = lt
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := uint32(1); ; seq++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			lt.WriteSample(media.Sample{Data: testFrame(c.id, "audio", seq), Duration: interval})
		}
	}()
	b.Cleanup(s.halt)
	return s
}

// BenchmarkRekeySwitch measures, in a meeting of n members that all send
// audio, the time from the host removing a member until the host has
// decrypted a frame of the new epoch from every remaining sender (and sends
// in it itself): how long a removed member's keys stay in use. Reported as
// switch-ms per removal; a new member is added back (untimed) between
// removals.
func BenchmarkRekeySwitch(b *testing.B) {
	for _, n := range []int{3, 20} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			benchRekeySwitch(b, n)
		})
	}
}

func benchRekeySwitch(b *testing.B, n int) {
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(b, envConfig{})
	interval := 20 * time.Millisecond
	if n > 5 {
		interval = 60 * time.Millisecond // 2 shared cores: keep the SFU's load sane
	}
	host := e.join("host", signaling.RoleHost, WithRekeyInterval(0))
	members := []*client{host}
	host.audioSender(ctx, b, interval)
	next := 0
	add := func() {
		c := e.join(fmt.Sprintf("m%d", next), signaling.RoleParticipant, WithRekeyInterval(0))
		next++
		members = append(members, c)
		c.audioSender(ctx, b, interval)
	}
	for len(members) < n {
		add()
	}
	settle := func() {
		epoch, _ := converged(b, 60*time.Second, members...)
		// Media from everyone reaches the host in the current epoch
		// before the clock starts: the removal is what is measured, not
		// the last joiner's media setup.
		eventually(b, 60*time.Second, "media from every member", func() bool {
			return allSentIn(host, members[1:], epoch)
		})
	}
	settle()
	var total time.Duration
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		victim := members[len(members)-1]
		members = members[:len(members)-1]
		oldEpoch, _, _ := host.m.SecurityCode()
		b.StartTimer()
		start := time.Now()
		if err := host.m.Signaling().Remove(ctx, victim.id); err != nil {
			b.Fatal(err)
		}
		want := oldEpoch + 1
		deadline := start.Add(20 * time.Second)
		var merged time.Duration
		for {
			if merged == 0 && host.m.Stats().SendingEpoch >= want {
				merged = time.Since(start)
			}
			if ok := host.m.Stats().SendingEpoch >= want && allSentIn(host, members[1:], want); ok {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("remaining senders did not switch to epoch %d", want)
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		total += d
		all = append(all, d)
		b.StopTimer()
		if testing.Verbose() {
			b.Logf("removal %d: %v (host merged the Commit after %v)", i, d, merged)
		}
		victim.close()
		add()
		settle()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "switch-ms")
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "switch-p50-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "switch-max-ms")
}

// allSentIn reports whether rx decrypted an audio frame of epoch ≥ epoch
// from every one of txs.
func allSentIn(rx *client, txs []*client, epoch uint64) bool {
	for _, tx := range txs {
		if e, ok := rx.lastEpoch(tx.id, "audio"); !ok || e < epoch {
			return false
		}
	}
	return true
}

// BenchmarkJoinToFirstFrame measures the time from opening the WebSocket
// (Join) to the first decrypted video frame of a member already in the
// meeting, with auto-admission (no waiting room): signaling, MLS
// KeyPackage → Commit → Welcome, ICE/DTLS on both peer connections and the
// first frame. Reported as join-ms.
func BenchmarkJoinToFirstFrame(b *testing.B) {
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(b, envConfig{})
	host := e.join("host", signaling.RoleHost, WithRekeyInterval(0))
	host.publish(ctx, 33*time.Millisecond)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c := e.join(fmt.Sprintf("j%d", i), signaling.RoleParticipant, WithRekeyInterval(0))
		deadline := start.Add(20 * time.Second)
		for len(c.received("host", "video")) == 0 {
			if time.Now().After(deadline) {
				b.Fatal("no video frame")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		if err := c.m.Leave(ctx); err != nil {
			b.Fatal(err)
		}
		c.close()
		convergedN(b, 20*time.Second, 1, host)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "join-ms")
}

// BenchmarkReceiveFrame measures the client's per-frame receive path for a
// 160-byte Opus frame: KID lookup, SFrame decryption with the sender's keys,
// audio level and delivery to the track's buffer.
func BenchmarkReceiveFrame(b *testing.B) {
	b.ReportAllocs()
	alice, err := keys.NewIdentity(nil, "alice")
	if err != nil {
		b.Fatal(err)
	}
	g, err := keys.NewGroup(alice, nil)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := keyring.New(e2ee.Config{})
	if err != nil {
		b.Fatal(err)
	}
	rx, err := keyring.New(e2ee.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []*keyring.Ring{tx, rx} {
		ek, err := g.SFrameKeys()
		if err != nil {
			b.Fatal(err)
		}
		// rx installs alice's key as a remote participant's.
		k := &core.InstallKeys{Epoch: ek.Epoch, Own: core.SFrameKey{Identity: "alice", Leaf: ek.Own.Leaf, KID: ek.Own.KID, BaseKey: ek.Own.BaseKey}}
		k.Members = []core.SFrameKey{k.Own}
		if r == rx {
			k.Own.Leaf = ^uint32(0)
		}
		if err := r.Install(k); err != nil {
			b.Fatal(err)
		}
	}
	o := defaultOptions()
	m := &Meeting{opts: o, keys: rx, speakers: newSpeakers()}
	t := &RemoteTrack{m: m, participant: "alice", codec: e2ee.CodecOpus, frames: make(chan Frame, 1), done: make(chan struct{})}
	peer, err := rx.Peer("alice")
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, 160)
	frame[0] = 0x78
	enc := make([][]byte, b.N)
	for i := range enc {
		if enc[i], err = tx.Sender().EncryptFrame(nil, e2ee.CodecOpus, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.process(peer, &media.Sample{Data: enc[i]})
		<-t.frames
	}
	b.StopTimer()
	if st := t.Stats(); st.Decrypted != uint64(b.N) {
		b.Fatalf("decrypted %d of %d", st.Decrypted, b.N)
	}
}
