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
//   - keys: client identities (Ed25519) and MLS group keys (RFC 9420). Every
//     join, leave and periodic update is a Commit that moves the group to a
//     new epoch, so a removed member cannot read what follows and a new member
//     cannot read what came before. Each epoch exports one SFrame base key per
//     sender (RFC 9605 §5.2) and a short security code that people compare out
//     loud. keys has no network, no pion and no goroutines: it is the audit
//     surface.
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
//   - this package, tresor: the Go client that joins all of the above.
//
// # Threat model
//
// The server side (SFU and signaling) is trusted for availability, never for
// confidentiality. It sees metadata: who joins when, frame sizes and timing,
// RTP header extensions such as audio level, and the clear codec prefix. It
// can drop, delay or reorder traffic. It cannot read media or chat, forge or
// replay a frame a client accepts, add a member without every client's roster
// and security code showing it, or keep a removed member able to decrypt.
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
// The token comes from the application's backend (auth.MintToken). Once
// admitted, the client uploads an MLS KeyPackage; a member commits its Add and
// the client joins the group from the Welcome. Every join and leave, and an
// Update every five minutes ([WithRekeyInterval]), starts a new epoch: a sender
// switches to the new epoch's SFrame key as soon as it applied the Commit, and
// receivers keep the previous epoch's keys for a grace window
// ([WithGraceWindow]) before erasing them. One goroutine owns the MLS group;
// the Meeting's methods hand it work. Participants joining and leaving, the
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
// Each remote participant's frames are decrypted with that member's keys
// only, so a server that relabels, modifies, replays or injects a frame gets
// it rejected and counted ([Meeting.Stats]). The hostile-server tests
// (hostile_test.go, with taps from internal/hostile) check these promises
// against the project's own server with everything it handles recorded and
// rewritten, including the SRTP between a client and the SFU, decrypted with
// the SFU's own hop keys.
package tresor
