package tresor

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

// Defaults of the options.
const (
	// DefaultRekeyInterval is how often a member commits an empty Commit
	// (an MLS Update of its own path, RFC 9420 §12.4) when no join or leave
	// started a new epoch: post-compromise security within five minutes.
	DefaultRekeyInterval = 5 * time.Minute

	// DefaultGraceWindow is how long a receiver keeps the previous epoch's
	// SFrame keys after moving to a new epoch, so that frames sent just
	// before a sender applied the Commit still decrypt. It is also how long
	// the client waits before it reports a disagreement between the server
	// and the MLS group (see [Mismatch]).
	DefaultGraceWindow = 2 * time.Second
)

// An Option configures [Join].
type Option func(*options)

type options struct {
	passcode    string
	room        string
	logger      *slog.Logger
	rekey       time.Duration
	grace       time.Duration
	api         *webrtc.API
	settings    webrtc.SettingEngine
	rand        io.Reader
	identity    *keys.Identity
	authority   []ed25519.PublicKey
	voucher     Voucher
	sigOpts     []signaling.Option
	frameBuffer int

	// keyLog, set only by this package's tests, sees every SFrame base key
	// the client installs, so that the hostile-server suite can look for it
	// in what the server saw.
	keyLog func(epoch uint64, k core.SFrameKey)
	// epochLog, set only by this package's tests, is called on the goroutine
	// that owns the group each time the client enters an epoch with the
	// epoch's secrets (internal/testonly), so that the hostile-server suite
	// can look for them in what the server saw.
	epochLog func(epoch uint64, secrets map[string][]byte)
	// rawFrame, set only by this package's tests, sees every encrypted
	// frame of a remote track before decryption.
	rawFrame func(participant string, c e2ee.Codec, data []byte)
}

// WithPasscode sets the meeting passcode. It travels in the signaling join
// message, never in the URL.
func WithPasscode(passcode string) Option { return func(o *options) { o.passcode = passcode } }

// WithRoom names the room to join; by default it is the room in the token.
func WithRoom(room string) Option { return func(o *options) { o.room = room } }

// WithLogger sets the logger. Logs never contain keys, tokens, passcodes or
// media. The default discards logs.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRekeyInterval sets how often the client commits a periodic Update when
// nothing else changed the epoch; default [DefaultRekeyInterval]. Zero or
// negative disables the periodic Update (joins and leaves still rekey).
func WithRekeyInterval(d time.Duration) Option { return func(o *options) { o.rekey = d } }

// WithGraceWindow sets how long the previous epoch's receiving keys are kept
// after a new epoch starts; default [DefaultGraceWindow].
func WithGraceWindow(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithWebRTCAPI sets the pion API used for both peer connections (codecs,
// interceptors, SettingEngine). Its MediaEngine must offer VP8 and Opus, and
// should register the RFC 6464 audio level extension for active-speaker
// events; [NewAPI] builds such an API. The default is NewAPI with the
// SettingEngine of [WithSettingEngine].
func WithWebRTCAPI(api *webrtc.API) Option { return func(o *options) { o.api = api } }

// WithSettingEngine sets the pion SettingEngine of the default API (network
// types, interfaces, port range, ICE timeouts; tests restrict it to
// 127.0.0.1). It is ignored when [WithWebRTCAPI] is given.
func WithSettingEngine(se webrtc.SettingEngine) Option { return func(o *options) { o.settings = se } }

// WithRand sets the source of randomness for the MLS identity and group
// (default crypto/rand). Only tests should set it.
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

// WithIdentity sets the participant's long-term MLS identity (an Ed25519
// key, see keys.Identity). Its name must be the identity in the join token.
// In a meeting whose members are vouched for ([WithAuthority]) it must carry
// the backend's assertion (keys.Identity.SetAssertion), unless
// [WithVoucher] is given. By default Join creates a fresh identity for the
// meeting.
func WithIdentity(id *keys.Identity) Option { return func(o *options) { o.identity = id } }

// WithAuthority sets the public keys of the application backend that
// vouches for members (the keys it signs assertions with; several while it
// rotates them). The client then accepts into its MLS group, and commits,
// only members the backend vouched for in this room, and it must be vouched
// for itself ([WithIdentity] with an assertion, or [WithVoucher]). Without
// it, names in the group are self-chosen: every [Member] is unverified, and
// the application must say so to its user.
func WithAuthority(keys ...ed25519.PublicKey) Option {
	return func(o *options) { o.authority = append(o.authority, keys...) }
}

// A Voucher asks the application backend to vouch for the participant's
// MLS signature key: it returns the backend's assertion (keys.Assertion,
// minted with auth.MintAssertion) for the key, the participant's identity
// and the room.
type Voucher func(ctx context.Context, signatureKey []byte) (assertion []byte, err error)

// WithVoucher sets how Join gets the backend's assertion for the fresh
// identity it creates (or for a [WithIdentity] identity without one).
func WithVoucher(v Voucher) Option { return func(o *options) { o.voucher = v } }

// WithSignalingOptions passes options to signaling.Dial (HTTP client,
// headers, read limit).
func WithSignalingOptions(opts ...signaling.Option) Option {
	return func(o *options) { o.sigOpts = append(o.sigOpts, opts...) }
}

// WithFrameBuffer sets how many decrypted frames each remote track buffers
// for [RemoteTrack.ReadFrame] before it drops the oldest; default 256.
func WithFrameBuffer(n int) Option { return func(o *options) { o.frameBuffer = n } }

func defaultOptions() options {
	return options{rekey: DefaultRekeyInterval, grace: DefaultGraceWindow, frameBuffer: 256}
}
