package signaling

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The delivery service never parses MLS, so these tests use labelled opaque
// bytes for KeyPackages, Commits and Welcomes and check how the server
// orders and routes them.

// found makes c the founder of the room's group.
func found(t *testing.T, c *Client) {
	t.Helper()
	if err := c.UploadKeyPackage(ctx(t), []byte("kp-"+c.Self().Identity)); err != nil {
		t.Fatal(err)
	}
	if g := waitFor[CreateGroupRequested](t, c); g.Epoch != 0 {
		t.Fatalf("group created at epoch %d", g.Epoch)
	}
}

// add has joiner upload a KeyPackage and committer commit the Add at epoch;
// it checks the request, the Welcome, and that the others got the Commit.
func add(t *testing.T, committer, joiner *Client, epoch uint64, others ...*Client) {
	t.Helper()
	id := joiner.Self().Identity
	kp := []byte("kp-" + id)
	if err := joiner.UploadKeyPackage(ctx(t), kp); err != nil {
		t.Fatal(err)
	}
	req := waitMatch(t, committer, func(r CommitRequested) bool { return len(r.Proposals) > 0 })
	if req.Epoch != epoch || len(req.Proposals) != 1 {
		t.Fatalf("request %+v, want one proposal at epoch %d", req, epoch)
	}
	p := req.Proposals[0]
	if p.Kind != ProposalAdd || p.Participant != id || !bytes.Equal(p.KeyPackage, kp) {
		t.Fatalf("proposal %+v", p)
	}
	commit := []byte(fmt.Sprintf("commit@%d+%s", epoch, id))
	welcome := []byte("welcome-" + id)
	got, err := committer.SendCommit(ctx(t), Commit{Epoch: epoch, Proposals: []uint64{p.ID}, Data: commit, Welcome: welcome})
	if err != nil || got != epoch+1 {
		t.Fatalf("commit: epoch %d, %v", got, err)
	}
	w := waitFor[WelcomeReceived](t, joiner)
	if w.Epoch != epoch+1 || !bytes.Equal(w.Data, welcome) || w.From != committer.Self().Identity {
		t.Fatalf("welcome %+v", w)
	}
	for _, o := range others {
		c := waitFor[CommitReceived](t, o)
		if c.Epoch != epoch || !bytes.Equal(c.Data, commit) {
			t.Fatalf("%s got commit %+v", o.Self().Identity, c)
		}
	}
}

func TestDeliveryJoinFlow(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a)
	found(t, a)
	b := e.dial("r", "b", RoleParticipant)
	waitFor[Joined](t, b)
	add(t, a, b, 0)
	c := e.dial("r", "c", RoleParticipant)
	waitFor[Joined](t, c)
	add(t, a, c, 1, b)
	st := waitMatch(t, c, func(s StateChanged) bool { return s.State.Epoch == 2 }).State
	for _, p := range st.Participants {
		if !p.Member {
			t.Fatalf("%s not a member in %+v", p.Identity, st)
		}
	}
	// A non-member cannot commit; stale and unknown proposals conflict;
	// Adds need a Welcome.
	d := e.dial("r", "d", RoleParticipant)
	waitFor[Joined](t, d)
	_, err := d.SendCommit(ctx(t), Commit{Epoch: 2, Data: []byte("x")})
	wantCode(t, err, CodeNotMember)
	_, err = b.SendCommit(ctx(t), Commit{Epoch: 1, Data: []byte("stale")})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale epoch: %v", err)
	}
	_, err = b.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{999}, Data: []byte("x")})
	wantCode(t, err, CodeConflict)
	if err := d.UploadKeyPackage(ctx(t), []byte("kp-d")); err != nil {
		t.Fatal(err)
	}
	req := waitFor[CommitRequested](t, a)
	_, err = a.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("x")})
	wantCode(t, err, CodeBadRequest)
	_, err = a.SendCommit(ctx(t), Commit{Epoch: 2, Data: []byte("x"), Welcome: []byte("w")})
	wantCode(t, err, CodeBadRequest)
	wantCode(t, a.UploadKeyPackage(ctx(t), []byte("again")), CodeBadRequest)
}

func TestCommitRace(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	var cs []*Client
	for i := range 4 {
		c := e.dial("r", fmt.Sprint("m", i), RoleHost)
		waitFor[Joined](t, c)
		cs = append(cs, c)
	}
	found(t, cs[0])
	for i := 1; i < len(cs); i++ {
		add(t, cs[0], cs[i], uint64(i-1), cs[1:i]...)
	}
	epoch := uint64(len(cs) - 1)
	// Several rounds: every member sends an Update Commit on the same epoch
	// at once. Exactly one wins; the others get a conflict, see the winning
	// Commit relayed, and retry on the next epoch.
	for round := range 5 {
		var wg sync.WaitGroup
		results := make([]error, len(cs))
		for i, c := range cs {
			wg.Go(func() {
				_, results[i] = c.SendCommit(ctx(t), Commit{Epoch: epoch, Data: []byte(fmt.Sprintf("update r%d m%d", round, i))})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: two commits accepted for epoch %d", round, epoch)
				}
				winner = i
			case errors.Is(err, ErrConflict):
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no commit accepted", round)
		}
		want := []byte(fmt.Sprintf("update r%d m%d", round, winner))
		for i, c := range cs {
			if i == winner {
				continue
			}
			got := waitMatch(t, c, func(r CommitReceived) bool { return r.Epoch == epoch })
			if !bytes.Equal(got.Data, want) || got.From != fmt.Sprint("m", winner) {
				t.Fatalf("round %d: m%d got %+v", round, i, got)
			}
		}
		epoch++
	}
	if got := e.srv.Stats().Rejected[CodeConflict]; got != 5*3 {
		t.Fatalf("conflicts counted %d, want 15", got)
	}
}

func TestCommitterFailover(t *testing.T) {
	e := newEnv(t, Config{CommitTimeout: 300 * time.Millisecond})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	b := e.dial("r", "b", RoleParticipant)
	c := e.dial("r", "c", RoleParticipant)
	for _, x := range []*Client{a, b, c} {
		waitFor[Joined](t, x)
	}
	found(t, a)
	add(t, a, b, 0)
	add(t, a, c, 1, b)
	// a (first in join order) is asked, stays silent, and b is asked next.
	d := e.dial("r", "d", RoleParticipant)
	waitFor[Joined](t, d)
	if err := d.UploadKeyPackage(ctx(t), []byte("kp-d")); err != nil {
		t.Fatal(err)
	}
	waitFor[CommitRequested](t, a)
	start := time.Now()
	req := waitFor[CommitRequested](t, b)
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("failover before the timeout")
	}
	if req.Epoch != 2 || req.Proposals[0].Participant != "d" {
		t.Fatalf("request %+v", req)
	}
	if got, err := b.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("c2"), Welcome: []byte("w")}); err != nil || got != 3 {
		t.Fatalf("commit %d %v", got, err)
	}
	waitFor[WelcomeReceived](t, d)
	if n := e.srv.Stats().CommitTimeouts; n != 1 {
		t.Fatalf("commit timeouts %d", n)
	}
	// The committer leaving fails over at once: a leaves, so a Remove is
	// pending and b (the first online member) is asked.
	if err := a.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	req = waitMatch(t, b, func(r CommitRequested) bool { return len(r.Proposals) == 1 && r.Proposals[0].Kind == ProposalRemove })
	if req.Proposals[0].Participant != "a" || req.Epoch != 3 {
		t.Fatalf("remove request %+v", req)
	}
	if _, err := b.SendCommit(ctx(t), Commit{Epoch: 3, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("rm a")}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Client{c, d} {
		if got := waitMatch(t, x, func(r CommitReceived) bool { return r.Epoch == 3 }); string(got.Data) != "rm a" {
			t.Fatalf("commit %+v", got)
		}
	}
}

func TestHostRemoveCommitsMLSRemove(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	q := e.dial("r", "q", RoleParticipant)
	for _, x := range []*Client{h, p, q} {
		waitFor[Joined](t, x)
	}
	found(t, h)
	add(t, h, p, 0)
	add(t, h, q, 1, p)
	if err := h.Remove(ctx(t), "p"); err != nil {
		t.Fatal(err)
	}
	req := waitMatch(t, h, func(r CommitRequested) bool { return len(r.Proposals) == 1 })
	if pr := req.Proposals[0]; pr.Kind != ProposalRemove || pr.Participant != "p" || req.Epoch != 2 {
		t.Fatalf("request %+v", req)
	}
	if _, err := h.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("rm p")}); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, q, func(r CommitReceived) bool { return r.Epoch == 2 })
	st := waitMatch(t, q, func(s StateChanged) bool { return s.State.Epoch == 3 }).State
	if !sameIDs(st.Participants, []string{"h", "q"}) {
		t.Fatalf("roster %+v", st.Participants)
	}
}

func TestGroupRefoundedWhenEmpty(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	waitFor[Joined](t, p)
	found(t, h)
	// p's Add is pending when h, the only member, leaves: p founds anew.
	if err := p.UploadKeyPackage(ctx(t), []byte("kp-p")); err != nil {
		t.Fatal(err)
	}
	waitFor[CommitRequested](t, h)
	h.Close()
	if g := waitFor[CreateGroupRequested](t, p); g.Epoch != 0 {
		t.Fatalf("refounded at %d", g.Epoch)
	}
	if _, err := p.SendCommit(ctx(t), Commit{Epoch: 0, Data: []byte("update")}); err != nil {
		t.Fatal(err)
	}
}

// TestPendingAddExpires: an Add that no Commit covers (here the committer
// never covers it, as it would a KeyPackage it finds invalid) is dropped
// after KeyPackageTimeout, its uploader is told so and may upload afresh,
// and the other pending proposals go on.
func TestPendingAddExpires(t *testing.T) {
	const timeout = 400 * time.Millisecond
	e := newEnv(t, Config{KeyPackageTimeout: timeout})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	b := e.dial("r", "b", RoleParticipant)
	c := e.dial("r", "c", RoleParticipant)
	for _, x := range []*Client{a, b, c} {
		waitFor[Joined](t, x)
	}
	found(t, a)
	add(t, a, b, 0)

	// c uploads; then b leaves, so a Remove is pending too. a covers
	// neither yet.
	start := time.Now()
	if err := c.UploadKeyPackage(ctx(t), []byte("kp-c-bad")); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	req := waitMatch(t, a, func(r CommitRequested) bool { return len(r.Proposals) == 2 })
	if req.Proposals[0].Kind != ProposalAdd || req.Proposals[1].Kind != ProposalRemove {
		t.Fatalf("request %+v", req)
	}
	expiredID := req.Proposals[0].ID
	// c's Add expires: c is told, and a is asked for the Remove alone.
	ev := waitMatch(t, c, func(e ServerError) bool { return e.Err.Code == CodeKeyPackageExpired })
	if d := time.Since(start); d < timeout*9/10 {
		t.Fatalf("expired after %v, before the %v timeout", d, timeout)
	}
	if !errors.Is(ev.Err, ErrKeyPackageExpired) || ev.Err.Message == "" {
		t.Fatalf("expiry event %+v", ev.Err)
	}
	req = waitMatch(t, a, func(r CommitRequested) bool { return len(r.Proposals) == 1 })
	rm := req.Proposals[0]
	if rm.Kind != ProposalRemove || rm.Participant != "b" || req.Epoch != 1 {
		t.Fatalf("request after expiry %+v", req)
	}
	if _, err := a.SendCommit(ctx(t), Commit{Epoch: 1, Proposals: []uint64{rm.ID}, Data: []byte("rm b")}); err != nil {
		t.Fatal(err)
	}
	if st := e.srv.Stats(); st.KeyPackagesExpired != 1 {
		t.Fatalf("expired count %d", st.KeyPackagesExpired)
	}
	// A Commit naming the expired Add conflicts.
	_, err := a.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{expiredID}, Data: []byte("x"), Welcome: []byte("w")})
	wantCode(t, err, CodeConflict)
	// c uploads a fresh KeyPackage and is added.
	if err := c.UploadKeyPackage(ctx(t), []byte("kp-c-good")); err != nil {
		t.Fatal(err)
	}
	req = waitMatch(t, a, func(r CommitRequested) bool { return len(r.Proposals) == 1 && r.Proposals[0].Kind == ProposalAdd })
	if p := req.Proposals[0]; p.Participant != "c" || string(p.KeyPackage) != "kp-c-good" || req.Epoch != 2 {
		t.Fatalf("request after re-upload %+v", req)
	}
	if _, err := a.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("add c"), Welcome: []byte("w-c")}); err != nil {
		t.Fatal(err)
	}
	if w := waitFor[WelcomeReceived](t, c); w.Epoch != 3 {
		t.Fatalf("welcome %+v", w)
	}
	// Nothing is pending, and nothing expires later.
	noEvent[ServerError](t, c, 2*timeout)
}
