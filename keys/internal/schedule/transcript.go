package schedule

import "github.com/tresor-dev/tresor/keys/internal/suite"

// ConfirmedTranscriptHash computes the confirmed transcript hash of the
// epoch a Commit creates (RFC 9420 §8.2):
//
//	confirmed_transcript_hash_[epoch] =
//	    Hash(interim_transcript_hash_[epoch - 1] ||
//	         ConfirmedTranscriptHashInput_[epoch]);
//
// confirmedInput is the encoded ConfirmedTranscriptHashInput of the Commit
// (wire.ConfirmedTranscriptHashInput). For a new group's epoch 0 the
// confirmed transcript hash is empty and this function is not used.
func ConfirmedTranscriptHash(s *suite.Suite, interimPrev, confirmedInput []byte) []byte {
	h := s.NewHash()
	h.Write(interimPrev)
	h.Write(confirmedInput)
	return h.Sum(nil)
}

// InterimTranscriptHash computes the interim transcript hash (RFC 9420
// §8.2):
//
//	interim_transcript_hash_[epoch] =
//	    Hash(confirmed_transcript_hash_[epoch] ||
//	         InterimTranscriptHashInput_[epoch]);
//
// interimInput is the encoded InterimTranscriptHashInput, i.e. the Commit's
// confirmation_tag as an opaque<V> (wire.InterimTranscriptHashInput).
func InterimTranscriptHash(s *suite.Suite, confirmed, interimInput []byte) []byte {
	h := s.NewHash()
	h.Write(confirmed)
	h.Write(interimInput)
	return h.Sum(nil)
}
