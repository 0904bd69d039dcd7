package sfumedia

import (
	"slices"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// chromeOffer is the shape of a browser's publish offer (abridged): a
// camera, a microphone, a receive-only section and one old-style ssrc msid.
const chromeOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1 2 3\r\n" +
	"a=msid-semantic: WMS stream\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=mid:0\r\n" +
	"a=sendonly\r\n" +
	"a=msid:stream 7f3e-cam\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=mid:1\r\n" +
	"a=sendrecv\r\n" +
	"a=msid:stream 91aa-mic\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=mid:2\r\n" +
	"a=recvonly\r\n" +
	"a=msid:stream not-sent\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=mid:3\r\n" +
	"a=sendonly\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=ssrc:1234 cname:x\r\n" +
	"a=ssrc:1234 msid:stream old-screen\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=mid:4\r\n"

func TestPublishedTracksBrowserOffer(t *testing.T) {
	got, err := publishedTracks(chromeOffer)
	if err != nil {
		t.Fatal(err)
	}
	want := []offeredTrack{{"7f3e-cam", webrtc.RTPCodecTypeVideo}, {"91aa-mic", webrtc.RTPCodecTypeAudio}, {"old-screen", webrtc.RTPCodecTypeVideo}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPublishedTracksPionOffer(t *testing.T) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, x := range []struct {
		id   string
		mime string
		rate uint32
	}{{"camera-1", webrtc.MimeTypeVP8, 90000}, {"mic-1", webrtc.MimeTypeOpus, 48000}} {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: x.mime, ClockRate: x.rate}, x.id, "me")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := publishedTracks(offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	want := []offeredTrack{{"camera-1", webrtc.RTPCodecTypeVideo}, {"mic-1", webrtc.RTPCodecTypeAudio}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPublishedTracksRefused(t *testing.T) {
	if _, err := publishedTracks("not an sdp"); err == nil || strings.Contains(err.Error(), "not an sdp") {
		t.Fatalf("malformed SDP: err %v (must be an error that does not quote the input)", err)
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	for i := range maxTracks + 1 {
		b.WriteString("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=msid:s t")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("\r\n")
	}
	if _, err := publishedTracks(b.String()); err == nil {
		t.Fatalf("an offer with %d tracks was accepted", maxTracks+1)
	}
}

func FuzzPublishedTracks(f *testing.F) {
	f.Add(chromeOffer)
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\na=msid:a b\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, sdp string) {
		tracks, err := publishedTracks(sdp)
		if err != nil {
			return
		}
		if len(tracks) > maxTracks {
			t.Fatalf("%d tracks", len(tracks))
		}
		seen := map[string]bool{}
		for _, tr := range tracks {
			if tr.id == "" || seen[tr.id] || (tr.kind != webrtc.RTPCodecTypeAudio && tr.kind != webrtc.RTPCodecTypeVideo) {
				t.Fatalf("bad track %+v", tr)
			}
			seen[tr.id] = true
		}
	})
}
