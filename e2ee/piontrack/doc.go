// Package piontrack applies SFrame (RFC 9605, package
// [github.com/tresor-dev/tresor/e2ee]) to pion/webrtc v4 media tracks.
//
// Frames are encrypted whole, before RTP packetization, and decrypted whole,
// after reassembly, as RFC 9605 §4.1 describes:
//
//	sender:   media.Sample ──EncryptFrame──► LocalTrack ──packetizer──► RTP ──► SFU
//	receiver: SFU ──► RTP ──samplebuilder + depacketizer──► frame ──DecryptFrame──► media.Sample
//
// [LocalTrack] wraps a *webrtc.TrackLocalStaticSample so that WriteSample
// encrypts; it exposes no way to write unencrypted RTP. [RemoteTrack] reads
// a *webrtc.TrackRemote, rebuilds frames with pion's samplebuilder and the
// codec's depacketizer (codecs.VP8Packet, codecs.OpusPacket) and decrypts
// them. Supported codecs are VP8 and Opus (see [e2ee.Codec]).
package piontrack
