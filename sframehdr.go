package tresor

import "github.com/tresor-dev/tresor/e2ee"

// frameKID reads the KID of an encrypted frame of codec c without
// decrypting it: the clear codec prefix (e2ee.Codec), then the SFrame header
// (RFC 9605 §4.3):
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//	|X|  K  |Y|  C  |   KID (if X=1, K+1 bytes) |   CTR (if Y=1, C+1 bytes) |
//	+-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//
// The KID is not authenticated yet; the client uses it only to tell which
// epoch a frame claims (for the out-of-sync report and the frame's Epoch,
// which is set only after the frame decrypted under that KID's key).
func frameKID(c e2ee.Codec, data []byte) (uint64, bool) {
	off := 0
	if c == e2ee.CodecVP8 {
		if len(data) == 0 {
			return 0, false
		}
		off = 3
		if data[0]&0x01 == 0 { // key frame (RFC 6386 §9.1: P bit clear)
			off = 10
		}
	}
	if len(data) <= off {
		return 0, false
	}
	cfg := data[off]
	k := uint64(cfg>>4) & 0x07
	if cfg&0x80 == 0 {
		return k, true
	}
	n := int(k) + 1
	if len(data) < off+1+n {
		return 0, false
	}
	var kid uint64
	for _, b := range data[off+1 : off+1+n] {
		kid = kid<<8 | uint64(b)
	}
	return kid, true
}
