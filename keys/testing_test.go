package keys

import (
	"bytes"
	"testing"
)

// epochSecrets checks the hook's answer: every secret of §8's table that a
// member keeps, at least 16 bytes, not all zero, and no two equal.
func epochSecrets(t *testing.T, g *Group) map[string][]byte {
	t.Helper()
	s := g.testingOnlyEpochSecrets()
	want := []string{"sender_data_secret", "exporter_secret", "external_secret", "confirmation_key",
		"membership_key", "resumption_psk", "epoch_authenticator", "init_secret", "sframe_exporter_output"}
	if len(s) != len(want) {
		t.Fatalf("%d secrets, want %d", len(s), len(want))
	}
	for _, n := range want {
		if len(s[n]) < 16 || isZero(s[n]) {
			t.Fatalf("%s: %d bytes, zero %v", n, len(s[n]), isZero(s[n]))
		}
		for m, b := range s {
			if m != n && bytes.Equal(s[n], b) {
				t.Fatalf("%s equals %s", n, m)
			}
		}
	}
	// The names match the secrets they label.
	if !bytes.Equal(s["epoch_authenticator"], g.st.EpochAuthenticator()) {
		t.Fatal("epoch_authenticator is not the State's")
	}
	if sf, err := g.st.Export(sframeExporterLabel, nil, uint16(defaultSuite().Nk())); err != nil || !bytes.Equal(s["sframe_exporter_output"], sf) {
		t.Fatalf("sframe_exporter_output is not the exporter's (%v)", err)
	}
	return s
}

func TestTestingOnlyEpochSecrets(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob")
	alice, bob := ms[0], ms[1]
	a0, b0 := epochSecrets(t, alice.g), epochSecrets(t, bob.g)
	for n, v := range a0 {
		if !bytes.Equal(v, b0[n]) {
			t.Fatalf("alice and bob disagree on %s", n)
		}
	}
	// They are copies: scribbling on them changes nothing in the Group.
	clear(a0["exporter_secret"])
	if again := alice.g.testingOnlyEpochSecrets(); isZero(again["exporter_secret"]) {
		t.Fatal("the hook returned a live buffer")
	}

	c, err := alice.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, bob.g, c.Message)
	a1, b1 := epochSecrets(t, alice.g), epochSecrets(t, bob.g)
	for n, v := range a1 {
		if !bytes.Equal(v, b1[n]) {
			t.Fatalf("alice and bob disagree on %s after the Commit", n)
		}
		if bytes.Equal(v, b0[n]) {
			t.Fatalf("%s unchanged by the Commit", n)
		}
	}

	// A removed member holds no epoch secrets.
	c, err = alice.g.CreateCommit(nil, []uint32{bob.g.Self().Leaf})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, bob.g, c.Message)
	if s := bob.g.testingOnlyEpochSecrets(); s != nil {
		t.Fatalf("removed member returns %d secrets", len(s))
	}
	epochSecrets(t, alice.g)
}
