package signaling

import (
	"bytes"
	"strings"
	"testing"
)

// seedMessages are valid messages of every type, for seeds and round trips.
var seedMessages = []string{
	`{"v":1,"type":"join","id":1,"room":"r","token":"tj1.abc.def","passcode":"1234"}`,
	`{"v":1,"type":"leave","id":2}`,
	`{"v":1,"type":"admit","id":3,"participant":"u-1"}`,
	`{"v":1,"type":"deny","id":4,"participant":"u-1"}`,
	`{"v":1,"type":"remove","id":5,"participant":"u-1"}`,
	`{"v":1,"type":"mute","id":6,"participant":"u-1","source":"microphone"}`,
	`{"v":1,"type":"stop_track","id":7,"participant":"u-1","source":"camera"}`,
	`{"v":1,"type":"permission","id":8,"participant":"u-1","source":"screen","allowed":false}`,
	`{"v":1,"type":"lock","id":9,"locked":true}`,
	`{"v":1,"type":"end","id":10}`,
	`{"v":1,"type":"pre_allow","id":19,"roles":["cohost","participant"]}`,
	`{"v":1,"type":"consent","id":11,"granted":true,"recording":"0123456789abcdef0123456789abcdef"}`,
	`{"v":1,"type":"consent","id":21,"granted":false}`,
	`{"v":1,"type":"waiting","reason":"consent","recording":{"id":"0123456789abcdef0123456789abcdef","requested":true,"active":true,"recorder":"h","asked_at":1767225600000}}`,
	`{"v":1,"type":"ok","id":12,"recording":{"id":"0123456789abcdef0123456789abcdef","requested":true,"recorder":"h","asked_at":1}}`,
	`{"v":1,"type":"start_recording","id":12}`,
	`{"v":1,"type":"stop_recording","id":13}`,
	`{"v":1,"type":"chat","id":14,"epoch":3,"data":"AAECAw=="}`,
	`{"v":1,"type":"key_package","id":15,"data":"AAECAw=="}`,
	`{"v":1,"type":"commit","id":16,"epoch":0,"proposals":[1,2],"data":"AAEC","welcome":"AwQF"}`,
	`{"v":1,"type":"media","id":17,"signal":{"kind":"offer","target":"publish","sdp":"v=0\r\n"}}`,
	`{"v":1,"type":"media","id":20,"signal":{"kind":"track","trackId":"t1","source":"screen"}}`,
	`{"v":1,"type":"media","id":18,"signal":{"kind":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
	`{"v":1,"type":"state","state":{"participants":[{"identity":"a","role":"host","permissions":{"camera":true,"microphone":true,"screen":true}}],"recording":{"requested":true},"epoch":2}}`,
	`{"v":1,"type":"commit_request","epoch":4,"pending":[{"id":1,"kind":"add","participant":"b","key_package":"AQI="}]}`,
	`{"v":1,"type":"error","id":3,"code":"forbidden","message":"no"}`,
	`{"v":1,"type":"resume","id":1,"room":"r","resume":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","seq":0}`,
	`{"v":1,"type":"ack","seq":42}`,
	`{"v":1,"type":"group_info","id":22,"epoch":0,"data":"AAEC"}`,
	`{"v":1,"type":"get_group_info","id":23}`,
	`{"v":1,"type":"commit","id":24,"epoch":3,"data":"AAEC","group_info":"AwQF","external":true}`,
	`{"v":1,"type":"joined","id":1,"self":{"identity":"a","role":"host","permissions":{"camera":true,"microphone":true,"screen":true}},"state":{"participants":[],"recording":{},"epoch":0},"resume":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","resume_window":30000}`,
	`{"v":1,"type":"resumed","id":1,"resume":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","resume_window":30000,"last_id":7,"reason":"host","recording":{}}`,
	`{"v":1,"type":"state","seq":9,"state":{"participants":[{"identity":"a","role":"host","permissions":{"camera":true,"microphone":true,"screen":true},"reconnecting":true}],"recording":{},"epoch":2}}`,
	`{"v":1,"type":"commit","seq":10,"participant":"b","epoch":3,"data":"AAEC","external":true}`,
	`{"v":1,"type":"going_away"}`,
}

// FuzzDecodeMessage checks that decoding never panics and that a decoded
// message re-encodes stably: encode(decode(encode(m))) == encode(m).
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range seedMessages {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"v":1,"type":"chat","epoch":-1}`))
	f.Add([]byte(`{"v":1,"type":"consent","granted":true,"recording":{"id":"0123456789abcdef0123456789abcdef"}}`))
	f.Add([]byte(`{"v":1,"type":"consent","granted":true,"recording":7}`))
	f.Add([]byte(`{"v":1,"type":"consent","granted":true,"recording":null}`))
	f.Add([]byte(`{"v":1,"type":"commit","epoch":18446744073709551616}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			return
		}
		verr := m.validate()
		first, err := encodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeMessage(first)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", first, err)
		}
		if verr2 := m2.validate(); (verr == nil) != (verr2 == nil) {
			t.Fatalf("validity changed across a round trip: %v vs %v", verr, verr2)
		}
		second, err := encodeMessage(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("unstable encoding:\n%s\n%s", first, second)
		}
		if _, ok := toEvent(m2); ok && m2.Type == "" {
			t.Fatal("event without type")
		}
	})
}

// FuzzRecordingField checks the "recording" field, a string (an id) or an
// object (a state): decoding never panics, a decoded field re-encodes to
// the same field, and only well-formed ids are accepted in a consent.
func FuzzRecordingField(f *testing.F) {
	f.Add([]byte(`"0123456789abcdef0123456789abcdef"`))
	f.Add([]byte(`{"id":"0123456789abcdef0123456789abcdef","requested":true,"asked_at":5}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`"\u0030123456789abcdef0123456789abcdef"`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r recordingField
		if err := r.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var r2 recordingField
		if err := r2.UnmarshalJSON(b); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if r.id != r2.id || (r.state == nil) != (r2.state == nil) || (r.state != nil && *r.state != *r2.state) {
			t.Fatalf("round trip changed %q into %s", data, b)
		}
		if validRecordingID(r.id) && (len(r.id) != 32 || strings.Trim(r.id, "0123456789abcdef") != "") {
			t.Fatalf("accepted recording id %q", r.id)
		}
	})
}

// FuzzResumeSecret checks the parser of resume secrets: it never panics,
// accepts exactly the 43-character base64url form of 32 bytes, and a
// secret it accepts re-encodes to the same text (so that one secret has
// one form, and one hash).
func FuzzResumeSecret(f *testing.F) {
	good, _, err := newResumeSecret()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:42] + "B") // non-zero trailing bits
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 44))
	f.Add(good[:42] + "=")
	f.Add(good[:20] + "+" + good[21:])
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseResumeSecret(s)
		if err != nil {
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error quotes the input: %v", err)
			}
			return
		}
		if len(b) != resumeSecretLen {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if again := resumeEncoding.EncodeToString(b); again != s {
			t.Fatalf("%q re-encodes as %q", s, again)
		}
		if hashResumeSecret(b) != hashResumeSecret(append([]byte(nil), b...)) {
			t.Fatal("hash not deterministic")
		}
	})
}
