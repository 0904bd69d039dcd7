package tresor

import "github.com/tresor-dev/tresor/e2ee"

// frameKID reads the (still unauthenticated) KID of an encrypted frame of
// codec c with e2ee.FrameKID. The client uses it only to tell which epoch a
// frame claims: for holding frames of the next epoch, the out-of-sync report
// and the frame's Epoch, which is set only after the frame decrypted under
// that KID's key.
func frameKID(c e2ee.Codec, data []byte) (uint64, bool) {
	kid, err := e2ee.FrameKID(c, data)
	return kid, err == nil
}
