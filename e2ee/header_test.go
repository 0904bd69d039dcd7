package e2ee

import (
	"errors"
	"math"
	"testing"
)

func TestHeaderRoundTripBoundaries(t *testing.T) {
	var vals []uint64
	for i := 0; i < 64; i++ {
		v := uint64(1) << i
		vals = append(vals, v-1, v, v+1)
	}
	vals = append(vals, math.MaxUint64)
	for _, kid := range vals {
		for _, ctr := range vals {
			h := appendHeader(nil, kid, ctr)
			if len(h) != headerLen(kid, ctr) || len(h) > maxHeaderLen {
				t.Fatalf("kid %d ctr %d: len %d, headerLen %d", kid, ctr, len(h), headerLen(kid, ctr))
			}
			k, c, n, err := parseHeader(h)
			if err != nil || k != kid || c != ctr || n != len(h) {
				t.Fatalf("kid %d ctr %d: decoded %d %d %d %v", kid, ctr, k, c, n, err)
			}
		}
	}
}

func TestHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"KID truncated", []byte{0x80}},
		{"CTR truncated", []byte{0x0a, 0x01, 0x02}},
		{"both extended, CTR truncated", []byte{0x88, 0x10}},
		{"KID < 8 in extended form", []byte{0x80, 0x07}},
		{"CTR < 8 in extended form", []byte{0x08, 0x05}},
		{"KID with leading zero byte", []byte{0x90, 0x00, 0x10}},
		{"CTR with leading zero byte", []byte{0x0f, 0, 0, 0, 0, 0, 0, 0, 0x08}},
	} {
		if _, _, _, err := parseHeader(tc.in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s (%x): err = %v, want ErrMalformed", tc.name, tc.in, err)
		}
	}
}

func TestSuiteParams(t *testing.T) {
	for _, tc := range []struct {
		s      Suite
		name   string
		nk, nt int
	}{
		{AES128CTRHMACSHA256_80, "AES_128_CTR_HMAC_SHA256_80", 48, 10},
		{AES128CTRHMACSHA256_64, "AES_128_CTR_HMAC_SHA256_64", 48, 8},
		{AES128CTRHMACSHA256_32, "AES_128_CTR_HMAC_SHA256_32", 48, 4},
		{AES128GCMSHA256, "AES_128_GCM_SHA256_128", 16, 16},
		{AES256GCMSHA512, "AES_256_GCM_SHA512_128", 32, 16},
	} {
		if tc.s.String() != tc.name || tc.s.KeySize() != tc.nk || tc.s.Overhead() != tc.nt {
			t.Errorf("%v: got %s Nk=%d Nt=%d, want %s %d %d", uint16(tc.s), tc.s, tc.s.KeySize(), tc.s.Overhead(), tc.name, tc.nk, tc.nt)
		}
	}
	for _, s := range []Suite{0, 6, 0xffff} {
		if _, err := NewSender(Config{Suite: s}); s != 0 && err == nil {
			t.Errorf("suite %d accepted", s)
		}
		if s != 0 && (s.KeySize() != 0 || s.Overhead() != 0) {
			t.Errorf("suite %d has sizes", s)
		}
	}
}
