package sfu

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Room is a set of participants who receive each other's tracks.
type Room struct {
	sfu *SFU
	id  string

	mu           sync.Mutex
	participants map[string]*Participant
	tracks       []*publishedTrack
	speakers     []string
	closed       bool
	stopOnce     sync.Once
	stop         chan struct{}
	done         chan struct{}
}

func newRoom(s *SFU, id string) *Room {
	r := &Room{sfu: s, id: id, participants: make(map[string]*Participant),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.speakerLoop()
	return r
}

// ID is the room's identifier.
func (r *Room) ID() string { return r.id }

// Participants returns the IDs of the participants in the room, sorted.
func (r *Room) Participants() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.participants))
	for id := range r.participants {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// errRoomClosed is returned by join on a room that closed after the SFU
// handed it out; Join then opens a new room.
var errRoomClosed = errors.New("sfu: room closed")

// closeIfEmpty marks the room closed if nobody is in it.
func (r *Room) closeIfEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.participants) != 0 || r.closed {
		return false
	}
	r.closed = true
	return true
}

func (r *Room) join(ctx context.Context, id string, sig Signaler, opts []JoinOption) (*Participant, error) {
	o := joinOptions{canPublish: AllSources}
	for _, opt := range opts {
		opt(&o)
	}
	r.mu.Lock()
	closed, dup := r.closed, r.participants[id] != nil
	r.mu.Unlock()
	if closed {
		return nil, errRoomClosed
	}
	if dup {
		return nil, ErrDuplicateParticipant
	}
	// Connections are created outside the room lock.
	p, err := newParticipant(r, id, sig, o)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed || r.participants[id] != nil {
		closed := r.closed
		r.mu.Unlock()
		p.discard()
		if closed {
			return nil, errRoomClosed
		}
		return nil, ErrDuplicateParticipant
	}
	r.participants[id] = p
	existing := slices.Clone(r.tracks)
	r.mu.Unlock()
	r.sfu.metrics.participants.Inc()
	r.sfu.cfg.Logger.InfoContext(ctx, "sfu: participant joined", "room", r.id, "participant", id)

	for _, t := range existing {
		p.subscribe(t)
	}
	return p, nil
}

// leave removes p from the room and unpublishes its tracks.
func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	if r.participants[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.participants, p.id)
	var mine []*publishedTrack
	r.tracks = slices.DeleteFunc(r.tracks, func(t *publishedTrack) bool {
		if t.owner == p {
			mine = append(mine, t)
			return true
		}
		return false
	})
	others := r.othersLocked(p)
	r.mu.Unlock()
	r.sfu.metrics.participants.Dec()
	for _, t := range mine {
		r.unpublished(t, others)
	}
	// Drop p's subscriptions to others' tracks.
	for _, t := range r.snapshotTracks() {
		t.removeSubscriber(p)
	}
	r.sfu.roomEmpty(r)
}

func (r *Room) othersLocked(p *Participant) []*Participant {
	out := make([]*Participant, 0, len(r.participants))
	for _, q := range r.participants {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

func (r *Room) findTrack(pubID, trackID string) *publishedTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tracks {
		if t.owner.id == pubID && t.id == trackID {
			return t
		}
	}
	return nil
}

func (r *Room) snapshotTracks() []*publishedTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tracks)
}

// published is called once a publisher's track has its first layer.
func (r *Room) published(t *publishedTrack) {
	r.mu.Lock()
	if r.closed || r.participants[t.owner.id] != t.owner {
		r.mu.Unlock()
		t.close()
		return
	}
	r.tracks = append(r.tracks, t)
	others := r.othersLocked(t.owner)
	r.mu.Unlock()
	r.sfu.metrics.tracks.Inc()
	r.sfu.emit(Event{Type: EventTrackPublished, Room: r.id, Participant: t.owner.id, TrackID: t.id,
		Kind: t.kind.String(), Source: t.source()})
	for _, q := range others {
		q.subscribe(t)
	}
}

// unpublish removes t from the room (track ended or was stopped).
func (r *Room) unpublish(t *publishedTrack) {
	r.mu.Lock()
	i := slices.Index(r.tracks, t)
	if i < 0 {
		r.mu.Unlock()
		return
	}
	r.tracks = slices.Delete(r.tracks, i, i+1)
	others := r.othersLocked(t.owner)
	r.mu.Unlock()
	r.unpublished(t, others)
}

func (r *Room) unpublished(t *publishedTrack, subs []*Participant) {
	t.close()
	for _, q := range subs {
		q.unsubscribe(t)
	}
	r.sfu.metrics.tracks.Dec()
	r.sfu.emit(Event{Type: EventTrackUnpublished, Room: r.id, Participant: t.owner.id, TrackID: t.id,
		Kind: t.kind.String(), Source: t.source()})
}

// close marks the room closed and stops its speaker loop.
func (r *Room) close() {
	r.mu.Lock()
	was := r.closed
	r.closed = true
	r.mu.Unlock()
	if !was {
		r.stopSpeakerLoop()
	}
}

func (r *Room) stopSpeakerLoop() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Room) closeAll() {
	r.mu.Lock()
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
	r.close()
}

// speakerLoop recomputes active speakers from the RFC 6464 audio levels of
// the room's audio tracks and emits EventActiveSpeakers on change.
func (r *Room) speakerLoop() {
	defer close(r.done)
	tick := time.NewTicker(r.sfu.cfg.SpeakerInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		type score struct {
			id    string
			level float64
		}
		var active []score
		for _, t := range r.snapshotTracks() {
			if lvl, ok := t.speaker.take(); ok {
				active = append(active, score{t.owner.id, lvl})
			}
		}
		slices.SortStableFunc(active, func(a, b score) int {
			switch {
			case a.level > b.level:
				return -1
			case a.level < b.level:
				return 1
			}
			return 0
		})
		ids := make([]string, 0, len(active))
		for _, a := range active {
			if !slices.Contains(ids, a.id) {
				ids = append(ids, a.id)
			}
		}
		r.mu.Lock()
		changed := !slices.Equal(ids, r.speakers)
		r.speakers = ids
		r.mu.Unlock()
		if changed {
			r.sfu.emit(Event{Type: EventActiveSpeakers, Room: r.id, Speakers: slices.Clone(ids)})
		}
	}
}

// ActiveSpeakers returns the current active speakers, loudest first.
func (r *Room) ActiveSpeakers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.speakers)
}

// RoomActiveSpeakers returns the active speakers of room id, loudest first,
// or nil when the room does not exist.
func (s *SFU) RoomActiveSpeakers(id string) []string {
	s.mu.Lock()
	r := s.rooms[id]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.ActiveSpeakers()
}
