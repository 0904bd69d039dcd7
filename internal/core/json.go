package core

import (
	"encoding/json"
	"fmt"
)

// Output names: how outputs are named in JSON (the browser's SDK dispatches
// events under these names, and the parity test compares outputs by them).
const (
	NameSendKeyPackage    = "send_key_package"
	NameSendCommit        = "send_commit"
	NameSendChat          = "send_chat"
	NameSendConsent       = "send_consent"
	NameSendGroupInfo     = "send_group_info"
	NameSendGetGroupInfo  = "send_get_group_info"
	NameResynced          = "resynced"
	NameInstallKeys       = "install_keys"
	NameExpireKeys        = "expire_keys"
	NameEraseKeys         = "erase_keys"
	NameEpochChanged      = "epoch_changed"
	NameParticipantJoined = "participant_joined"
	NameParticipantLeft   = "participant_left"
	NameGroupLeft         = "group_left"
	NameChatMessage       = "chat_message"
	NameConsentRequested  = "consent_requested"
	NameRecordingChanged  = "recording_changed"
	NameMismatch          = "mismatch"
	NameWarning           = "warning"
)

// Names lists every output name, for the browser's SDK.
var Names = []string{NameSendKeyPackage, NameSendCommit, NameSendChat, NameSendConsent, NameSendGroupInfo,
	NameSendGetGroupInfo, NameResynced, NameInstallKeys,
	NameExpireKeys, NameEraseKeys, NameEpochChanged, NameParticipantJoined, NameParticipantLeft, NameGroupLeft,
	NameChatMessage, NameConsentRequested, NameRecordingChanged, NameMismatch, NameWarning}

func typeName(o Output) string {
	switch o.(type) {
	case SendKeyPackage:
		return NameSendKeyPackage
	case SendCommit:
		return NameSendCommit
	case SendChat:
		return NameSendChat
	case SendConsent:
		return NameSendConsent
	case SendGroupInfo:
		return NameSendGroupInfo
	case SendGetGroupInfo:
		return NameSendGetGroupInfo
	case Resynced:
		return NameResynced
	case *InstallKeys:
		return NameInstallKeys
	case ExpireKeys:
		return NameExpireKeys
	case EraseKeys:
		return NameEraseKeys
	case EpochChanged:
		return NameEpochChanged
	case ParticipantJoined:
		return NameParticipantJoined
	case ParticipantLeft:
		return NameParticipantLeft
	case GroupLeft:
		return NameGroupLeft
	case ChatMessage:
		return NameChatMessage
	case ConsentRequested:
		return NameConsentRequested
	case RecordingChanged:
		return NameRecordingChanged
	case Mismatch:
		return NameMismatch
	case Warning:
		return NameWarning
	}
	panic(fmt.Sprintf("core: unknown output %T", o)) // the set is closed
}

// jsonMember is a Member in JSON.
type jsonMember struct {
	Leaf         uint32 `json:"leaf"`
	Identity     string `json:"identity"`
	Name         string `json:"name"`
	Verified     bool   `json:"verified"`
	SignatureKey []byte `json:"signatureKey,omitempty"`
}

func jm(m Member) jsonMember {
	return jsonMember{Leaf: m.Leaf, Identity: m.Identity, Name: m.Name, Verified: m.Verified, SignatureKey: m.SignatureKey}
}

func jms(ms []Member) []jsonMember {
	out := make([]jsonMember, len(ms))
	for i, m := range ms {
		out[i] = jm(m)
	}
	return out
}

// jsonKey is an SFrameKey without its key.
type jsonKey struct {
	Identity string `json:"identity"`
	Leaf     uint32 `json:"leaf"`
	KID      uint64 `json:"kid"`
}

// MarshalOutput encodes an output as one JSON object {"type": name, …}
// with the output's fields in lower camel case and binary fields in base64.
// Keys are never encoded: an InstallKeys names the KIDs and identities only.
func MarshalOutput(o Output) ([]byte, error) {
	var v any
	switch o := o.(type) {
	case SendKeyPackage:
		v = struct {
			Data []byte `json:"data"`
		}{o.Data}
	case SendCommit:
		if o.Proposals == nil {
			o.Proposals = []uint64{} // the request's field is a list, never null
		}
		v = struct {
			Epoch     uint64   `json:"epoch"`
			Proposals []uint64 `json:"proposals"`
			Data      []byte   `json:"data"`
			Welcome   []byte   `json:"welcome,omitempty"`
			External  bool     `json:"external,omitempty"`
		}{o.Epoch, o.Proposals, o.Data, o.Welcome, o.External}
	case SendGroupInfo:
		v = struct {
			Epoch uint64 `json:"epoch"`
			Data  []byte `json:"data"`
		}{o.Epoch, o.Data}
	case SendGetGroupInfo:
		v = struct{}{}
	case Resynced:
		v = struct {
			Epoch uint64 `json:"epoch"`
		}{o.Epoch}
	case SendChat:
		v = struct {
			Epoch uint64 `json:"epoch"`
			Data  []byte `json:"data"`
		}{o.Epoch, o.Data}
	case SendConsent:
		v = struct {
			Recording string `json:"recording"`
			Granted   bool   `json:"granted"`
		}{o.Recording, o.Granted}
	case *InstallKeys:
		keys := make([]jsonKey, len(o.Members))
		for i, k := range o.Members {
			keys[i] = jsonKey{k.Identity, k.Leaf, k.KID}
		}
		v = struct {
			Epoch   uint64    `json:"epoch"`
			Own     jsonKey   `json:"own"`
			Members []jsonKey `json:"members"`
		}{o.Epoch, jsonKey{o.Own.Identity, o.Own.Leaf, o.Own.KID}, keys}
	case ExpireKeys:
		v = struct {
			Before uint64 `json:"before"`
		}{o.Before}
	case EraseKeys, GroupLeft:
		v = struct{}{}
	case EpochChanged:
		v = struct {
			Epoch        uint64       `json:"epoch"`
			SecurityCode string       `json:"securityCode"`
			Members      []jsonMember `json:"members"`
		}{o.Epoch, o.SecurityCode, jms(o.Members)}
	case ParticipantJoined:
		v = struct {
			Member jsonMember `json:"member"`
		}{jm(o.Member)}
	case ParticipantLeft:
		v = struct {
			Member jsonMember `json:"member"`
		}{jm(o.Member)}
	case ChatMessage:
		v = struct {
			From  jsonMember `json:"from"`
			Epoch uint64     `json:"epoch"`
			Text  string     `json:"text"`
		}{jm(o.From), o.Epoch, o.Text}
	case ConsentRequested:
		v = struct {
			Recording Recording  `json:"recording"`
			Recorder  jsonMember `json:"recorder"`
			Waiting   bool       `json:"waiting"`
		}{o.Recording, jm(o.Recorder), o.Waiting}
	case RecordingChanged:
		v = struct {
			Recording Recording `json:"recording"`
			Verified  bool      `json:"verified"`
			Missing   []string  `json:"missing"`
		}{o.Recording, o.Verified, o.Missing}
	case Mismatch:
		v = struct {
			Kind         string   `json:"kind"`
			Participants []string `json:"participants"`
			ServerEpoch  uint64   `json:"serverEpoch"`
			Epoch        uint64   `json:"epoch"`
		}{o.Kind.String(), o.Participants, o.ServerEpoch, o.Epoch}
	case Warning:
		v = struct {
			Message string `json:"message"`
		}{o.Message}
	}
	fields, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// {"type":"…", then the fields.
	head, err := json.Marshal(typeName(o))
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"type":`), head...)
	if len(fields) > 2 {
		out = append(out, ',')
		out = append(out, fields[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// MarshalOutputs encodes outputs as a JSON array of [MarshalOutput] objects.
func MarshalOutputs(outs []Output) ([]byte, error) {
	b := []byte{'['}
	for i, o := range outs {
		if i > 0 {
			b = append(b, ',')
		}
		enc, err := MarshalOutput(o)
		if err != nil {
			return nil, err
		}
		b = append(b, enc...)
	}
	return append(b, ']'), nil
}
