// Package vp8 reads the one clear bit the SFU needs from a VP8 RTP payload:
// whether a packet starts a key frame.
//
// With Tresor's end-to-end encryption the VP8 payload descriptor (RFC 7741
// §4.2) is never encrypted and the first bytes of the VP8 payload header
// (RFC 6386 §9.1, RFC 7741 §4.3) stay clear, so the SFU can find key frames
// without a media key. Nothing beyond the first payload-header byte is read.
package vp8

// IsKeyFrameStart reports whether payload, the payload of one VP8 RTP packet,
// is the first packet of a key frame.
//
// The VP8 payload descriptor (RFC 7741 §4.2):
//
//	     0 1 2 3 4 5 6 7
//	    +-+-+-+-+-+-+-+-+
//	    |X|R|N|S|R| PID | (REQUIRED)
//	    +-+-+-+-+-+-+-+-+
//	X:  |I|L|T|K| RSV   | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
//	I:  |M| PictureID   | (OPTIONAL, 7 or 15 bits)
//	    +-+-+-+-+-+-+-+-+
//	L:  |   TL0PICIDX   | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
//	T/K:|TID|Y| KEYIDX  | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
//
// A packet starts a frame when S=1 and PID=0; the frame is a key frame when
// the P bit (bit 0) of the first VP8 payload-header byte is 0 (RFC 7741
// §4.3). Truncated or malformed descriptors report false.
func IsKeyFrameStart(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	b0 := payload[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S=0 or PID != 0
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X
		if len(payload) <= i {
			return false
		}
		x := payload[i]
		i++
		if x&0x80 != 0 { // I: PictureID, M bit selects 15 bits
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if len(payload) <= i {
		return false
	}
	return payload[i]&0x01 == 0
}
