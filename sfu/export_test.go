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
