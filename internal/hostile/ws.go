package hostile

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Message is one WebSocket message through the proxy.
type Message struct {
	Identity string // the participant of the connection (from its join token)
	ToServer bool
	Data     []byte
}

// Conn is one proxied client connection.
type Conn struct {
	mu       sync.Mutex
	identity string
}

// Identity returns the participant identity, once its join was seen.
func (c *Conn) Identity() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity
}

// Proxy is a WebSocket proxy in front of the signaling server: the server
// as its clients see it. It records every message both ways and lets a test
// drop, rewrite or add messages.
type Proxy struct {
	upstream string

	mu       sync.Mutex
	log      []Message
	toClient func(c *Conn, msg []byte) [][]byte
	live     map[*Conn]func() // cuts the connection, both sides
}

// NewProxy returns a proxy to the signaling server at upstream (ws://).
func NewProxy(upstream string) *Proxy { return &Proxy{upstream: upstream} }

// ToClient sets a function that sees every server message to a client and
// returns the messages to deliver instead. Nil restores pass-through.
func (p *Proxy) ToClient(f func(c *Conn, msg []byte) [][]byte) {
	p.mu.Lock()
	p.toClient = f
	p.mu.Unlock()
}

// Cut drops the connections of the participant identity at once, on both
// sides and without a close frame, as a network failure would. It reports
// how many it cut.
func (p *Proxy) Cut(identity string) int {
	p.mu.Lock()
	var cuts []func()
	for c, cut := range p.live {
		if c.Identity() == identity {
			cuts = append(cuts, cut)
		}
	}
	p.mu.Unlock()
	for _, cut := range cuts {
		cut()
	}
	return len(cuts)
}

// Messages returns a copy of the recorded messages.
func (p *Proxy) Messages() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

func (p *Proxy) record(c *Conn, toServer bool, data []byte) {
	p.mu.Lock()
	p.log = append(p.log, Message{Identity: c.Identity(), ToServer: toServer, Data: slices.Clone(data)})
	p.mu.Unlock()
}

// ServeHTTP accepts a client and relays it to the upstream server.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	down, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	down.SetReadLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up, _, err := websocket.Dial(ctx, p.upstream, nil)
	if err != nil {
		down.Close(websocket.StatusInternalError, "upstream")
		return
	}
	up.SetReadLimit(-1)
	c := &Conn{}
	p.mu.Lock()
	if p.live == nil {
		p.live = map[*Conn]func(){}
	}
	p.live[c] = func() {
		down.CloseNow()
		up.CloseNow()
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.live, c)
		p.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client → server
		defer wg.Done()
		defer cancel()
		for {
			typ, data, err := down.Read(ctx)
			if err != nil {
				return
			}
			if id := joinIdentity(data); id != "" {
				c.mu.Lock()
				c.identity = id
				c.mu.Unlock()
			}
			p.record(c, true, data)
			if err := up.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}()
	go func() { // server → client
		defer wg.Done()
		defer cancel()
		for {
			typ, data, err := up.Read(ctx)
			if err != nil {
				return
			}
			p.record(c, false, data)
			p.mu.Lock()
			f := p.toClient
			p.mu.Unlock()
			out := [][]byte{data}
			if f != nil {
				out = f(c, data)
			}
			for _, m := range out {
				if err := down.Write(ctx, typ, m); err != nil {
					return
				}
			}
		}
	}()
	wg.Wait()
	up.Close(websocket.StatusNormalClosure, "")
	down.Close(websocket.StatusNormalClosure, "")
}

// joinIdentity returns the identity in a join message's token (signaling
// token format tj1.<payload>.<signature>; the proxy does not verify it).
func joinIdentity(msg []byte) string {
	var m struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if json.Unmarshal(msg, &m) != nil || m.Type != "join" {
		return ""
	}
	parts := strings.Split(m.Token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}

// Binaries returns every byte string a JSON message carries: the message
// itself and the base64 decoding of each string value that decodes (MLS
// messages, chat ciphertexts), found recursively.
func Binaries(msg []byte) [][]byte {
	out := [][]byte{msg}
	var v any
	if json.Unmarshal(msg, &v) != nil {
		return out
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) > 0 {
				out = append(out, b)
			}
			out = append(out, []byte(v))
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
