package vp8

import "testing"

func TestIsKeyFrameStart(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"empty", nil, false},
		{"key no ext", []byte{0x10, 0x00, 0x9d}, true},
		{"delta no ext", []byte{0x10, 0x01, 0x9d}, false},
		{"not start", []byte{0x00, 0x00}, false},
		{"start pid 1", []byte{0x11, 0x00}, false},
		{"key 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"delta 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x01}, false},
		{"key 7-bit picture id", []byte{0x90, 0x80, 0x05, 0x00}, true},
		{"key all ext", []byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40, 0x00}, true},
		{"truncated after X", []byte{0x90}, false},
		{"truncated after I", []byte{0x90, 0x80}, false},
		{"truncated before header", []byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKeyFrameStart(tt.payload); got != tt.want {
				t.Fatalf("IsKeyFrameStart(%x) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

func FuzzIsKeyFrameStart(f *testing.F) {
	f.Add([]byte{0x10, 0x00, 0x9d})
	f.Add([]byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40, 0x00})
	f.Add([]byte{0x90, 0x80})
	f.Fuzz(func(t *testing.T, p []byte) {
		got := IsKeyFrameStart(p)
		if got && (len(p) < 2 || p[0]&0x10 == 0) {
			t.Fatalf("key frame reported for %x", p)
		}
	})
}
