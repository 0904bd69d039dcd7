// Package tresor is an end-to-end encrypted (E2EE) conferencing SDK.
//
// Tresor is built so that the servers a meeting runs through can forward it
// but never read it. Every key is generated on a participant's device:
//
//	 participant A                 server side                 participant B
//	┌──────────────┐   WebSocket  ┌───────────┐  WebSocket   ┌──────────────┐
//	│ keys (MLS)   │◄────────────►│ signaling │◄────────────►│ keys (MLS)   │
//	│   │ epoch    │  opaque MLS  │ (delivery │  opaque MLS  │   │ epoch    │
//	│   ▼ secrets  │  messages    │  service) │  messages    │   ▼ secrets  │
//	│ e2ee (SFrame)│              ├───────────┤              │ e2ee (SFrame)│
//	│   │ frames   │  SRTP (hop)  │    sfu    │  SRTP (hop)  │   ▲ frames   │
//	│   ▼          │─────────────►│ forwards  │─────────────►│   │          │
//	│ pion/webrtc  │  SFrame      │ ciphertext│  SFrame      │ pion/webrtc  │
//	└──────────────┘  ciphertext  └───────────┘  ciphertext  └──────────────┘
//
// The packages, each with one job:
//
//   - keys: client identities (Ed25519), members vouched for by the
//     application's backend, and MLS group keys (RFC 9420). Every join, leave
//     and periodic update is a Commit that moves the group to a new epoch, so
//     a removed member cannot read what follows and a new member cannot read
//     what came before. Each epoch exports the SFrame base key of RFC 9605
//     §5.2 (each sender's KID makes its key its own) and a 40-digit security
//     code that people compare out loud. keys has no network, no pion and no
//     goroutines: it is the audit surface.
//   - e2ee: SFrame (RFC 9605) per-frame encryption of media, applied to whole
//     frames before RTP packetization and removed after reassembly. A codec's
//     first bytes stay clear (and authenticated) so that the SFU and decoders
//     can see key frames. e2ee takes keys through a small interface and does
//     not import keys.
//   - sfu: a selective forwarding unit on pion/webrtc v4. It rewrites RTP
//     headers and answers RTCP, and it never holds a media key: it imports
//     neither keys nor e2ee.
//   - signaling: a versioned JSON protocol over one WebSocket, the meeting
//     controls (join tokens, passcode, waiting room, host roles, recording
//     consent) and the MLS delivery service, which orders handshake messages it
//     cannot read.
//   - auth: what an application backend needs: join tokens, passcode
//     hashes, and assertions that vouch for a participant's MLS key.
//   - this package, tresor: the Go client that joins all of the above. Its
//     meeting logic is internal/core's driver, with no I/O, which the
//     browser client runs too (compiled into tresor.wasm).
//
// # Threat model
//
// The server side (SFU and signaling) is trusted for availability, never for
// confidentiality. It sees metadata: who joins when, frame sizes and timing,
// RTP header extensions such as audio level, and the clear codec prefix. It
// can drop, delay or reorder traffic. The application's backend, which mints
// join tokens, is trusted for identity, as every conferencing system's
// account service is: with [WithAuthority] it vouches for each member's MLS
// key (auth.MintAssertion).
//
// What a hostile server cannot do, and where that is enforced (the tests in
// hostile_test.go and hostile_trust_test.go prove each against the
// project's own server with a rewriting proxy in front of it):
//
//   - read media or chat: keys exist only on members' devices;
//   - add a member: with an Authority every leaf must carry the backend's
//     assertion for this room and its own key, and a group never holds two
//     leaves of one identity (keys); without one, names are self-chosen and
//     every [Member] shows Verified false — an application must say so;
//   - forge, relabel or replay a frame: a track's frames open only with the
//     keys of the member its label names, each once (internal/keyring);
//   - attribute chat or consent by a name it chooses: both are MLS messages
//     signed by a leaf ([ChatMessage].From is that member);
//   - steer the client with labels: a message is handled as what the group
//     says it is (a chat message the server calls a Commit stays chat, and
//     keys change only on a real epoch change);
//   - split the group into views with equal codes: the 40-digit code has
//     about 133 bits, beyond grinding even with a colluding member;
//   - reuse a recording's consent, or call a recording active early: a
//     recording is [RecordingChanged].Verified only with every member's
//     signed consent to exactly that recording;
//   - hide a disagreement: a roster, epoch or consent the server reports
//     differently from the group for longer than the grace window becomes a
//     [Mismatch], whichever side is ahead.
//
// In the browser the page itself comes from the server: that is the web's
// limit (web/README.md says what it implies).
//
// # The Go client
//
// [Join] connects to a meeting and returns a [*Meeting]:
//
//	m, err := tresor.Join(ctx, "wss://meet.example.com/signal", token)
//	defer m.Close()
//	cam, _ := m.Publish(ctx, signaling.SourceCamera)     // VP8; SourceMicrophone is Opus
//	_ = cam.WriteSample(media.Sample{Data: vp8Frame, Duration: time.Second / 30})
//	for ev := range m.Events() {
//		switch ev := ev.(type) {
//		case *tresor.TrackAdded:      // ev.Track.ReadFrame(ctx) returns decrypted frames
//		case *tresor.EpochChanged:    // show ev.SecurityCode; everyone should see the same
//		case *tresor.Mismatch:        // the server and the MLS group disagree
//		}
//	}
//
// The token comes from the application's backend (auth.MintToken), and so
// does the assertion that vouches for the client's MLS key ([WithVoucher],
// auth.MintAssertion); [WithAuthority] names the backend's public keys. Once
// admitted, the client uploads an MLS KeyPackage; a member commits its Add and
// the client joins the group from the Welcome. Every join and leave, and an
// Update every five minutes ([WithRekeyInterval]), starts a new epoch: a sender
// switches to the new epoch's SFrame key as soon as it applied the Commit, and
// receivers keep the previous epoch's keys for a grace window
// ([WithGraceWindow]) before erasing them. One goroutine owns the driver
// (internal/core) and the MLS group in it; the Meeting's methods hand it
// work, and its requests to the server go out in order from another. Participants joining and leaving, the
// roster and the security code come from the MLS group, never from the
// server's list: when the two disagree for longer than the grace window, or
// a member's frames carry keys this client does not hold, a [Mismatch] event
// says so.
//
// Video needs key frames: the SFU asks a publisher for one when a
// subscriber joins, and a remote video track asks by itself after a lost or
// rejected frame ([RemoteTrack.RequestKeyFrame] asks explicitly). The
// publishing application sees [KeyFrameRequested] and should make its next
// frame a key frame; a browser's encoder does so by itself.
//
// When the network drops or changes, media comes back without a new join:
// a peer connection that stays disconnected for 1.5 s, or fails, is given
// an ICE restart (RFC 8445 §9) on the same connection, retried every 1–2 s
// while it stays down, and remote video asks for a key frame once it is
// back (recovery.go). The meeting, the MLS epoch and the tracks carry on;
// frames written while the connection is down are lost. How soon an outage
// is noticed follows pion's ICE timeouts (SettingEngine.SetICETimeouts in
// [WithSettingEngine]; pion's defaults: disconnected after 5 s without
// traffic, failed 25 s later).
//
// Each remote participant's frames are decrypted with that member's keys
// only, so a server that relabels, modifies, replays or injects a frame gets
// it rejected and counted ([Meeting.Stats]). The hostile-server tests
// (hostile_test.go, with taps from internal/hostile) check these promises
// against the project's own server with everything it handles recorded and
// rewritten, including the SRTP between a client and the SFU, decrypted with
// the SFU's own hop keys.
package tresor
