package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Application messages: what members send each other inside MLS
// application messages (RFC 9420 §6.3.1), so sealed and signed by the
// sender's leaf. One JSON object:
//
//	{"v":1,"type":"chat","text":"…"}
//	{"v":1,"type":"consent","recording":"<id>","recorder":"<identity>","asked_at":<ms>,"granted":true}
//
// A consent names the whole recording — the server's id, the recorder and
// the time it was asked — so that the server cannot present it as consent
// to another recording.
type appMessage struct {
	V         int    `json:"v"`
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	Recording string `json:"recording,omitempty"`
	Recorder  string `json:"recorder,omitempty"`
	AskedAt   int64  `json:"asked_at,omitempty"`
	Granted   bool   `json:"granted,omitempty"`
}

const (
	appVersion  = 1
	appChat     = "chat"
	appConsent  = "consent"
	maxChatText = 16 << 10
)

var errAppMessage = errors.New("malformed application message")

func encodeApp(m appMessage) ([]byte, error) {
	m.V = appVersion
	return json.Marshal(m)
}

func decodeApp(b []byte) (appMessage, error) {
	var m appMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || dec.More() {
		return appMessage{}, errAppMessage
	}
	switch {
	case m.V != appVersion:
		return appMessage{}, fmt.Errorf("%w: version %d", errAppMessage, m.V)
	case m.Type == appChat && len(m.Text) <= maxChatText:
	case m.Type == appConsent && m.Recording != "" && m.Recorder != "":
	default:
		return appMessage{}, fmt.Errorf("%w: type %q", errAppMessage, m.Type)
	}
	return m, nil
}

// matches reports whether a consent names exactly recording r.
func (m appMessage) matches(r Recording) bool {
	return m.Recording == r.ID && m.Recorder == r.Recorder && m.AskedAt == r.AskedAt
}
