// Package sfu is Tresor's selective forwarding unit: it routes end-to-end
// encrypted media between the participants of a room on pion/webrtc v4 and
// never needs a media key. It imports neither keys nor e2ee (the layering
// test in internal/layering checks this with go list -deps).
//
// # Using it
//
// The SFU is signaling-agnostic. The signaling layer creates one SFU with
// New, then for each participant calls Join with a Signaler through which
// the SFU sends SDP offers and ICE candidates back:
//
//	s, _ := sfu.New(sfu.Config{UDPAddr: ":7882", NAT1To1IPs: []string{publicIP}, Logger: log})
//	p, _ := s.Join(ctx, roomID, participantID, signaler, sfu.WithPublishSources(sfu.SourceSet(sfu.SourceCamera, sfu.SourceMicrophone)))
//	answer, _ := p.HandlePublishOffer(ctx, offerFromClient) // publish connection
//	_ = p.HandleSubscribeAnswer(ctx, answerFromClient)       // after signaler.SendOffer
//	_ = p.AddICECandidate(sfu.DirectionPublish, candidate)         // trickle ICE, either connection
//	_ = p.RestartSubscribeICE()                               // ICE restart of the subscribe connection (publish: the client's own offer)
//	p.DeclareSource(trackID, sfu.SourceScreen)                // what a published track carries
//	p.SetPublishPermission(sfu.SourceScreen, false)           // stop forwarding screen shares
//	_ = p.SetMuted(trackID, true)
//	p.RequestLayer(sfu.LayerLow)                              // simulcast layer wish, all tracks
//	_ = p.RequestTrackLayer(speakerID, trackID, sfu.LayerHigh) // or per track
//	_ = p.Unsubscribe(otherID, trackID)                        // stop receiving a track (Subscribe resumes;
//	                                                           // WithAutoSubscribe(false) at Join: receive only what is subscribed)
//	_ = p.Close()                                             // leave
//
// Events (track published/unpublished, active speakers) arrive through
// Config.OnEvent. Metrics go to Config.Registerer or to a registry of the
// SFU's own (Gatherer); the global Prometheus registry is never touched.
//
// # Two peer connections per participant
//
// Each participant has a publish connection, on which it sends media and
// always makes the offer, and a subscribe connection, on which it receives
// media and the SFU always makes the offer. One connection per participant
// would halve ICE/DTLS state, but then both sides must renegotiate the same
// connection: the SFU whenever someone publishes or leaves, the participant
// whenever it starts a camera or a screen share. Offers then collide (glare)
// and need the "perfect negotiation" dance with rollback, which is fragile
// across browsers and hard to test. With the pair, each connection has
// exactly one offerer, renegotiation is a simple queue (a change made while
// an offer is outstanding is folded into the next one), and a problem on
// the receive side never disturbs the participant's own upload. The cost —
// two DTLS handshakes and two ICE sessions — is small next to media, and
// both share the SFU's single UDP port.
//
// # ICE restart
//
// When a participant's network drops or changes, its connections recover
// by ICE restart (RFC 8445 §9) without leaving the room: on the publish
// connection the participant sends an offer with new ICE credentials,
// which HandlePublishOffer applies like any renegotiation; on the
// subscribe connection it asks, and RestartSubscribeICE makes the SFU's
// next offer a restart. pion restarts the ICE agent and keeps DTLS-SRTP
// and the transceivers, so published tracks, their subscribers and every
// down track carry on; when a connection is back, the video the
// participant receives, or publishes, restarts at key frames. Trickled
// candidates wait for the remote description of their own ICE session (by
// ufrag: internal/trickle), since a restart's candidates may overtake its
// description. A failed connection is not closed at once but after
// Config.ReconnectTimeout without a successful restart.
//
// # One UDP port
//
// All connections share one UDP socket (ICE UDP mux, RFC 8445 §5.1.1
// host candidates on one port; packets are demultiplexed by ICE username
// and then by remote address). Only host candidates are gathered; behind
// 1:1 NAT set Config.NAT1To1IPs.
//
// # Forwarding path
//
//	publisher ──SRTP──► TrackRemote.Read ─► parse header ─► packet cache (NACK)
//	                        (one goroutine per incoming stream)
//	                        │ key-frame bit (VP8 descriptor + 1 byte)
//	                        │ audio level (RFC 6464) ─► active speaker
//	                        ▼
//	            for each down track: rewrite SSRC, PT, seq, timestamp,
//	            extension IDs ─► pion write stream ─► SRTP ─► subscriber
//
// Each subscriber's copy of a track is a down track, the SFU's own
// webrtc.TrackLocal. It rewrites the SSRC and payload type to what the
// subscribe connection negotiated, shifts sequence numbers and timestamps by
// per-subscriber offsets (so a subscriber sees one continuous stream across
// simulcast switches, RFC 3550 §5.1), and rebuilds the header extensions
// with the subscriber's IDs: the audio level is copied, the transport-wide
// sequence number is the subscribe connection's own. The payload is written
// byte for byte as received. The only payload byte read is the VP8
// key-frame bit: the payload descriptor (RFC 7741 §4.2) and the first byte
// of the VP8 payload header, which Tresor's SFrame layout keeps clear.
//
// The forwarding loop allocates nothing per packet (a test checks it with
// testing.AllocsPerRun through a real connection): header and extension
// buffers are reused, the down-track list is a copy-on-write slice read with
// one atomic load, and metrics are label-free counters. The datagrams of one
// packet's fan-out are sent with one sendmmsg(2) call (internal package
// udpbatch) when the SFU owns its UDP socket. That socket also records the
// kernel's receive time of each RTP datagram (SO_TIMESTAMPNS), so that the
// SFU's own latency is measured from the packet's arrival, not from when
// pion hands it over (metric residence_seconds; see Measuring).
//
// # RTCP
//
//   - NACK (RFC 4585 §6.2.1) from subscribers is answered from one packet
//     cache per incoming stream, shared by all subscribers: each down track
//     keeps only a small map from its sequence numbers to cache entries.
//     Retransmissions reuse the original sequence number (no RTX stream).
//     A packet is resent to one subscriber at most once per 40 ms however
//     often it is NACKed, which bounds NACK storms. Towards publishers the
//     SFU generates NACKs itself (pion's generator). Because recovered
//     packets arrive late, the SFU's SRTP replay window is 1024 packets
//     (pion's default of 64 silently dropped them); receivers need a
//     window as large for recovery to work at video rates.
//   - PLI and FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) from subscribers, and
//     the SFU's own needs (a new or reconnected subscriber, a layer switch),
//     are merged into at most one PLI per incoming stream per
//     Config.PLIThrottle.
//   - Receiver reports go to publishers and sender reports to subscribers
//     (pion's report interceptors, RFC 3550 §6.4).
//   - Each subscribe connection runs send-side bandwidth estimation from
//     transport-wide CC feedback (draft-holmer-rmcat-transport-wide-cc-
//     extensions-01): down tracks stamp the connection's transport-wide
//     sequence numbers and the estimator (internal package bwe, a reduced
//     Google congestion control: loss-based AIMD plus a queuing-delay
//     over-use check) picks simulcast layers. pion's gcc interceptor does
//     the full algorithm but allocates several objects per packet sent.
//
// RTCP from subscribers is decoded by a small allocation-free decoder
// (internal package rtcpx) rather than pion/rtcp, which allocates per
// packet.
//
// # Simulcast
//
// A video track may arrive as up to three layers (RIDs q/h/f, RFC 8853).
// Each subscriber receives one: the highest whose measured bitrate fits the
// bandwidth estimate, or lower if it asked (RequestLayer). A switch waits
// for a key frame on the new layer, then continues the subscriber's
// sequence numbers and timestamps without a gap.
//
// # Sources and permissions
//
// A published track's source (camera, microphone, screen, screen audio) is
// declared by the client through the signaling layer, which calls
// DeclareSource with the MediaStreamTrack ID from the a=msid line.
// Undeclared audio is the microphone and undeclared video the camera. The
// SFU cannot verify a declaration: media is end-to-end encrypted, so a
// client may label screen content as camera. Source permissions therefore
// bind honest clients and keep everyone's UI truthful; they are not a
// confidentiality boundary. A muted or forbidden track stays connected and
// is not forwarded to anyone; when it is allowed again, subscribers restart
// at a fresh key frame.
//
// # Measuring
//
// How the SFU's CPU cost and added latency are measured against pion's bare
// broadcast loop (BenchmarkForward, cmd/sfuload), the figures on the
// development VM and where the time goes: sfu/loadtest/README.md.
//
// # Threat model
//
// The SFU sees what routing needs: RTP headers, the audio level, the clear
// codec prefix, sizes and timing. It can drop, delay or reorder media but
// cannot read or forge it: every payload is SFrame ciphertext authenticated
// end to end (RFC 9605), and the header fields the SFU rewrites are not
// part of SFrame's authenticated data.
package sfu
