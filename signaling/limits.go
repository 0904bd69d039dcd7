package signaling

import (
	"net/http"
	"net/netip"
)

// Limits that keep one client, or one address, from spending what the
// server and everyone else need: connections, passcode guesses, chat.

// addrKey is what a remote address is limited by: the address, or for
// IPv6 its /64 prefix, since one host or home usually holds a whole /64
// and could otherwise rotate through addresses.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr // a ClientAddr that is not an IP (tests, proxies' ids)
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// Why the server refused a WebSocket before upgrading it ([Stats].Refused).
const (
	refusedConns          = "conns"            // Config.MaxConns
	refusedConnsPerAddr   = "conns_per_addr"   // Config.MaxConnsPerAddr
	refusedPending        = "pending"          // Config.MaxPendingConns
	refusedPendingPerAddr = "pending_per_addr" // Config.MaxPendingConnsPerAddr
)

// connSlots counts open connections and those that have not joined yet,
// in all and per address key. The Server's mutex guards it.
type connSlots struct {
	open, pending     int
	openBy, pendingBy map[string]int
}

// acquireLocked reserves an open and a pending slot for a connection from
// key, or says why not: a reason for [Stats].Refused and an HTTP status
// (429 when the address is over its share, 503 when the server is full).
func (cs *connSlots) acquireLocked(cfg *Config, key string) (reason string, status int) {
	switch {
	case cs.openBy[key] >= cfg.MaxConnsPerAddr:
		return refusedConnsPerAddr, http.StatusTooManyRequests
	case cs.pendingBy[key] >= cfg.MaxPendingConnsPerAddr:
		return refusedPendingPerAddr, http.StatusTooManyRequests
	case cs.open >= cfg.MaxConns:
		return refusedConns, http.StatusServiceUnavailable
	case cs.pending >= cfg.MaxPendingConns:
		return refusedPending, http.StatusServiceUnavailable
	}
	cs.open++
	cs.openBy[key]++
	cs.pending++
	cs.pendingBy[key]++
	return "", 0
}

// joinedLocked releases a connection's pending slot once it has joined.
func (cs *connSlots) joinedLocked(key string) {
	cs.pending--
	if cs.pendingBy[key]--; cs.pendingBy[key] <= 0 {
		delete(cs.pendingBy, key)
	}
}

// releaseLocked releases a connection's open slot, and its pending slot if
// it never joined.
func (cs *connSlots) releaseLocked(key string, pending bool) {
	if pending {
		cs.joinedLocked(key)
	}
	cs.open--
	if cs.openBy[key]--; cs.openBy[key] <= 0 {
		delete(cs.openBy, key)
	}
}

// refusalMessages are the bodies of refused upgrades: why, and what to do.
var refusalMessages = map[string]string{
	refusedConns:          "signaling: the server has too many connections; try again later",
	refusedConnsPerAddr:   "signaling: too many connections from your address; close some and try again",
	refusedPending:        "signaling: too many connections are joining; try again shortly",
	refusedPendingPerAddr: "signaling: too many connections from your address have not joined yet; try again shortly",
}

// passcodeLimits limits failed passcode attempts so that nobody can turn
// the limit against others. Each attempt takes a token, before hashing,
// from:
//
//   - its (room, address) bucket and its (room, identity) bucket
//     (Config.PasscodeRate): one attacker — one address, or one token's
//     identity — runs dry alone, and only itself;
//   - then, only if both allowed it, its address's bucket across rooms
//     and the room's bucket across sources (Config.PasscodeRoomRate, at
//     least PasscodeRate): these bound a distributed guesser and the
//     hashing one address can cause; one source alone spends at most its
//     own PasscodeRate of them, so it cannot exhaust them for the room.
//
// A refused attempt gives back what it took; a right passcode gives back
// everything, so only failures count.
type passcodeLimits struct {
	roomAddr  *limiter[[2]string]
	roomIdent *limiter[[2]string]
	addr      *limiter[string]
	room      *limiter[string]
}

func newPasscodeLimits(cfg *Config) *passcodeLimits {
	const maxKeys = 10000
	return &passcodeLimits{
		roomAddr:  newLimiter[[2]string](cfg.PasscodeRate, maxKeys, cfg.Now),
		roomIdent: newLimiter[[2]string](cfg.PasscodeRate, maxKeys, cfg.Now),
		addr:      newLimiter[string](cfg.PasscodeRoomRate, maxKeys, cfg.Now),
		room:      newLimiter[string](cfg.PasscodeRoomRate, maxKeys, cfg.Now),
	}
}

// reserve takes a token for one attempt at room's passcode from address
// key addr by identity. If every bucket had one, it returns a function
// that gives them all back (for a right passcode, or an attempt that never
// ran).
func (l *passcodeLimits) reserve(room, addr, identity string) (refund func(), ok bool) {
	ra, ri := [2]string{room, addr}, [2]string{room, identity}
	if !l.roomAddr.spend(ra) {
		return nil, false
	}
	if !l.roomIdent.spend(ri) {
		l.roomAddr.refund(ra)
		return nil, false
	}
	own := func() { l.roomAddr.refund(ra); l.roomIdent.refund(ri) }
	if !l.addr.spend(addr) {
		own()
		return nil, false
	}
	if !l.room.spend(room) {
		l.addr.refund(addr)
		own()
		return nil, false
	}
	return func() { own(); l.addr.refund(addr); l.room.refund(room) }, true
}
