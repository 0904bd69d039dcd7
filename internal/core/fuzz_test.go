package core

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeApp: any application message either fails or decodes to one
// that re-encodes to an equal message.
func FuzzDecodeApp(f *testing.F) {
	for _, m := range []appMessage{{Type: appChat, Text: "hi"}, {Type: appConsent, Recording: "r", Recorder: "a", AskedAt: 5, Granted: true}} {
		b, _ := encodeApp(m)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"chat","text":"x","extra":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeApp(b)
		if err != nil {
			return
		}
		enc, err := encodeApp(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeApp(enc)
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip: %+v, %+v (%v)", m, again, err)
		}
	})
}

// FuzzReceive: a member's driver fed arbitrary server messages (the JSON
// the browser hands it) never panics, its outputs always encode, and its
// timers stay sane.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		`{"type":"state","state":{"participants":[{"identity":"alice","member":true}],"epoch":1,"recording":{"id":"r","requested":true,"active":true,"recorder":"alice"}}}`,
		`{"type":"commit_request","epoch":1,"pending":[{"id":1,"kind":"add","participant":"x","key_package":"AAEAAQ=="},{"id":2,"kind":"remove","participant":"alice"}]}`,
		`{"type":"commit","epoch":1,"data":"AAEAAg=="}`,
		`{"type":"chat","epoch":1,"data":""}`,
		`{"type":"welcome","data":"AAE="}`,
		`{"type":"waiting","reason":"consent","recording":{"id":"q","requested":true,"recorder":"z"}}`,
		`{"type":"error","code":"key_package_expired"}`,
		`{"type":"group_create","epoch":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ServerMessage
		if json.Unmarshal(b, &m) != nil {
			return
		}
		w := newWorld(t)
		w.join()
		outs := w.receive(m)
		if _, err := MarshalOutputs(outs); err != nil {
			t.Fatal(err)
		}
		if dl := w.d.Deadline(); !dl.IsZero() && dl.Before(w.now.Add(-time.Hour)) {
			t.Fatalf("deadline %v in the past", dl)
		}
		if _, err := MarshalOutputs(w.advance(3 * time.Second)); err != nil {
			t.Fatal(err)
		}
	})
}
