package tresor

import (
	"io"
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/e2ee"
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
	token       string
	passcode    string
	room        string
	logger      *slog.Logger
	rekey       time.Duration
	grace       time.Duration
	api         *webrtc.API
	settings    webrtc.SettingEngine
	rand        io.Reader
	identity    *keys.Identity
	sigOpts     []signaling.Option
	frameBuffer int

	// keyLog, set only by this package's tests, sees every SFrame base key
	// the client installs, so that the hostile-server suite can look for it
	// in what the server saw.
	keyLog func(epoch uint64, k keys.SFrameKey)
	// epochLog, set only by this package's tests, is called on the goroutine
	// that owns the group each time the client enters an epoch, so that the
	// hostile-server suite can collect the epoch's secrets
	// (keys.Group.TestingOnlyEpochSecrets) and look for them in what the
	// server saw.
	epochLog func(g *keys.Group)
	// rawFrame, set only by this package's tests, sees every encrypted
	// frame of a remote track before decryption.
	rawFrame func(participant string, c e2ee.Codec, data []byte)
}

// WithToken sets the join token, which the application's backend mints for
// the participant (auth.MintToken). Join fails without one.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

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
// key, see keys.Identity). Its name must be the identity in the join token,
// since members map MLS leaves to participants by that name. By default Join
// creates a fresh identity for the meeting.
func WithIdentity(id *keys.Identity) Option { return func(o *options) { o.identity = id } }

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
