package sfu

import (
	"errors"
	"time"

	"github.com/pion/rtp"
)

// TestingOnlyForwarder returns a function that forwards one more packet of
// publisher pubID's track trackID to subscriber sub exactly as the
// forwarding loop does (header rewrite, extension rebuild, SRTP write on the
// real connection), continuing the stream's sequence numbers. The publisher
// must be idle while it is used.
func TestingOnlyForwarder(sub *Participant, pubID, trackID string, payload []byte) (func() bool, error) {
	sub.mu.Lock()
	var d *downTrack
	for t, x := range sub.downs {
		if t.owner.id == pubID && t.id == trackID {
			d = x
		}
	}
	sub.mu.Unlock()
	if d == nil {
		return nil, errors.New("no such down track")
	}
	d.mu.Lock()
	if d.current < 0 || !d.started {
		d.mu.Unlock()
		return nil, errors.New("down track not started")
	}
	hdr := &rtp.Header{Version: 2, SequenceNumber: d.lastSeq + d.seqOff, Timestamp: d.lastTS + d.tsOff,
		Extensions: make([]rtp.Extension, 0, 2)}
	pk := &packet{layer: d.current, hdr: hdr, payload: payload, level: -1}
	d.mu.Unlock()
	return func() bool {
		hdr.SequenceNumber++
		hdr.Timestamp += 3000
		pk.arrival = time.Now()
		ok, _ := d.forward(pk)
		return ok
	}, nil
}

// TestingOnlyState describes a participant's subscribe side for test logs.
func TestingOnlyState(p *Participant) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := "sub pc " + p.sub.SignalingState().String() + "/" + p.sub.ConnectionState().String() + "/ice " + p.sub.ICEConnectionState().String() + "/gather " + p.sub.ICEGatheringState().String()
	if p.negDirty {
		out += " negDirty"
	}
	for t, d := range p.downs {
		d.mu.Lock()
		out += " | " + t.id
		if d.bound {
			out += " bound"
		}
		out += " cur=" + string(rune('0'+d.current+1)) + " tgt=" + string(rune('0'+d.target+1))
		d.mu.Unlock()
	}
	return out
}
