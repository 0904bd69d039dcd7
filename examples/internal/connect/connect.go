// Package connect holds what the Go examples (bot, recorder) need to join a
// demo meeting: where to connect, with which token, over which pion API.
package connect

import (
	"context"
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/examples/internal/demotoken"
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

// DefaultAPI is pion's default codecs (VP8 and Opus among them) and
// interceptors (NACK, RTCP reports, TWCC), with loopback candidates
// included so that a demo on 127.0.0.1 works.
func DefaultAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("connect: codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("connect: interceptors: %w", err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}
