// Package loadtest measures SFU forwarding cost. The server side (Tresor's SFU,
// or pion's broadcast pattern as a baseline) runs in the measuring process;
// every publisher and subscriber peer runs in a child process, so the CPU
// time and allocations measured are the server's alone.
//
// Parent and child speak JSON lines over the child's stdin/stdout: a tiny
// signaling protocol plus start/stop and statistics messages.
//
// It backs the sfu package's BenchmarkForward/BenchmarkForwardBarePion and
// the sfuload command. It is a measuring tool with no compatibility promise.
package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

type msg struct {
	Op    string                     `json:"op"`
	ID    string                     `json:"id,omitempty"`
	Pub   bool                       `json:"pub,omitempty"`
	Dir   int                        `json:"dir,omitempty"` // sfu.Direction: 1 publish, 2 subscribe
	SDP   *webrtc.SessionDescription `json:"sdp,omitempty"`
	Cand  *webrtc.ICECandidateInit   `json:"cand,omitempty"`
	Setup *Setup                     `json:"setup,omitempty"`
	N     int                        `json:"n,omitempty"`
	Stats *PeerStats                 `json:"stats,omitempty"`
	Err   string                     `json:"err,omitempty"`
}

// Setup is what the child peers do.
type Setup struct {
	Publishers  int `json:"publishers"`
	Subscribers int `json:"subscribers"`
	Payload     int `json:"payload"` // bytes per RTP payload
	PPS         int `json:"pps"`     // packets per second per publisher
	PerFrame    int `json:"perFrame"`
	// Gap, when set, spreads a frame's packets this far apart instead of
	// sending them back to back (Config.Paced).
	Gap time.Duration `json:"gap,omitempty"`
}

// PeerStats is what the child measured in the measured phase.
type PeerStats struct {
	Sent      int64   `json:"sent"`      // packets sent by all publishers
	Expected  int64   `json:"expected"`  // sent × subscribers
	Delivered int64   `json:"delivered"` // distinct packets received in range
	Corrupt   int64   `json:"corrupt"`
	P50Ms     float64 `json:"p50ms"`
	P99Ms     float64 `json:"p99ms"`
	MeanMs    float64 `json:"meanms"`
	Seconds   float64 `json:"seconds"`
	// CopyP50Ms and CopyP99Ms: kernel receipt of each copy on the
	// subscriber's socket minus the publisher's send time (CopyN samples).
	CopyP50Ms float64 `json:"copyp50ms"`
	CopyP99Ms float64 `json:"copyp99ms"`
	CopyN     int64   `json:"copyn"`
	// CopyP50ByPosMs and CopyP99ByPosMs are the same by the packet's
	// position in its frame (0 = first).
	CopyP50ByPosMs []float64 `json:"copyp50bypos,omitempty"`
	CopyP99ByPosMs []float64 `json:"copyp99bypos,omitempty"`
}

// conn is one side of the JSON-lines link. Sends are queued and written by
// a goroutine of their own, so that neither side can block the other by
// writing while the other writes (pipes have small buffers).
type conn struct {
	dec *bufio.Scanner

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []msg
	closed bool
	err    error
}

func newConn(r io.Reader, w io.Writer) *conn {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	c := &conn{dec: sc}
	c.cond = sync.NewCond(&c.mu)
	go c.writeLoop(json.NewEncoder(w))
	return c
}

func (c *conn) writeLoop(enc *json.Encoder) {
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		m := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		if err := enc.Encode(m); err != nil {
			c.mu.Lock()
			c.err, c.closed, c.queue = fmt.Errorf("loadtest: send %s: %w", m.Op, err), true, nil
			c.mu.Unlock()
			return
		}
	}
}

func (c *conn) send(m msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if c.err != nil {
			return c.err
		}
		return io.ErrClosedPipe
	}
	c.queue = append(c.queue, m)
	c.cond.Signal()
	return nil
}

// close stops the writer once the queue is flushed.
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Signal()
	c.mu.Unlock()
}

func (c *conn) recv() (msg, error) {
	if !c.dec.Scan() {
		if err := c.dec.Err(); err != nil {
			return msg{}, fmt.Errorf("loadtest: read: %w", err)
		}
		return msg{}, io.EOF
	}
	var m msg
	if err := json.Unmarshal(c.dec.Bytes(), &m); err != nil {
		return msg{}, fmt.Errorf("loadtest: bad message: %w", err)
	}
	return m, nil
}
