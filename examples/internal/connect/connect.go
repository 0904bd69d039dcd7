// Package connect holds what the Go examples (bot, recorder) need to join a
// demo meeting: where to connect, with which token, over which pion API.
package connect

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/internal/demotoken"
	"github.com/tresor-dev/tresor/signaling"
)

// Resolve returns the signaling URL and join token to join with. With a
// token, addr is the demo's http(s) URL or the signaling ws(s) URL; without
// one, a DEVELOPMENT-ONLY token for name and role is fetched from the demo
// at addr (see package demotoken).
func Resolve(ctx context.Context, addr, token, name string, role signaling.Role) (signalURL, joinToken string, err error) {
	if token != "" {
		u, err := demotoken.SignalURL(addr)
		return u, token, err
	}
	r, err := demotoken.Fetch(ctx, nil, addr, name, role)
	if err != nil {
		return "", "", err
	}
	return r.Signal, r.Token, nil
}

// DefaultAPI is the Go client's default pion API (tresor.NewAPI: pion's
// default codecs and interceptors plus the RFC 6464 audio level extension),
// with loopback candidates included so that a demo on 127.0.0.1 works.
func DefaultAPI() (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	api, err := tresor.NewAPI(se)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return api, nil
}

// Params says how an example joins a demo meeting.
type Params struct {
	// URL is the demo's http(s) URL, or with Token the signaling ws(s) URL.
	URL string
	// Token is a join token; empty fetches a DEVELOPMENT-ONLY one for Name
	// and Role from the demo (see Resolve).
	Token    string
	Passcode string
	Name     string
	Role     signaling.Role
	Logger   *slog.Logger
	// API is the pion API for the peer connections; nil uses DefaultAPI.
	API *webrtc.API
}

// Join resolves where and with which token to join (Resolve) and joins
// with tresor.Join. It returns the meeting and the signaling URL.
func Join(ctx context.Context, p Params) (*tresor.Meeting, string, error) {
	sigURL, token, err := Resolve(ctx, p.URL, p.Token, p.Name, p.Role)
	if err != nil {
		return nil, "", err
	}
	api := p.API
	if api == nil {
		if api, err = DefaultAPI(); err != nil {
			return nil, "", err
		}
	}
	// The demo's backend vouches for members' MLS keys: accept only
	// members it vouched for, and have it vouch for ours.
	authority, err := demotoken.FetchAuthority(ctx, nil, sigURL)
	if err != nil {
		return nil, "", err
	}
	voucher := func(ctx context.Context, key []byte) ([]byte, error) {
		return demotoken.Vouch(ctx, nil, sigURL, token, key)
	}
	opts := []tresor.Option{tresor.WithPasscode(p.Passcode), tresor.WithWebRTCAPI(api),
		tresor.WithAuthority(authority...), tresor.WithVoucher(voucher)}
	if p.Logger != nil {
		opts = append(opts, tresor.WithLogger(p.Logger))
	}
	m, err := tresor.Join(ctx, sigURL, token, opts...)
	if err != nil {
		return nil, "", err
	}
	return m, sigURL, nil
}
