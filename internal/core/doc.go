// Package core is the client's meeting logic with no I/O and no goroutines:
// the one implementation of it, run natively by the Go client (package
// tresor) and compiled into the browser's tresor.wasm (cmd/tresor-wasm).
//
// A [Driver] owns what a participant knows about its meeting: its MLS
// identity and KeyPackage, the group (package keys), the server's view of the
// room, the recording consents it has seen and its timers. It takes inputs —
// server messages ([Driver.Receive]), answers to its requests
// ([Driver.CommitResult]), the clock ([Driver.Tick]) and the user's intents
// ([Driver.SendChat], [Driver.Rekey], [Driver.Consent]) — and returns
// outputs: messages to send, keys to install or erase, and events. Its
// host does the I/O: package tresor's Meeting sends over the signaling
// WebSocket and feeds the answers back; the browser's worker does the same
// through the page. This is crypto/tls's split of the handshake state from
// Conn: the state machine is tested with a fake clock and no sockets
// (driver_test.go), and the browser runs the same code through wasm instead
// of a port (browsertest's parity test compares every output).
//
// # What a hostile server can and cannot do here
//
// The server labels its messages ("commit", "chat", "welcome") and claims a
// room state (roster, epoch, recording). The driver trusts none of it for
// security: an MLS message is dispatched on what [keys.Group.Process] says
// it is, never on its label, and keys are installed only on a real epoch
// change; a KeyPackage is added only if the backend vouched for it (with an
// [keys.Authority]) in the name the server gave; the roster shown is the MLS
// roster; chat and recording consents are attributed to the MLS leaf that
// signed them. What the server says about the room is compared with the
// group, and any disagreement that outlasts the grace window becomes a
// [Mismatch] event: a phantom or hidden member, an epoch ahead or behind, a
// recording it calls active without every member's signed consent.
package core
