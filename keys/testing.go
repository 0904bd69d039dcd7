package keys

import (
	"bytes"
	"fmt"

	"github.com/tresor-dev/tresor/internal/testonly"
)

func init() {
	testonly.EpochSecrets = func(g any) map[string][]byte { return g.(*Group).testingOnlyEpochSecrets() }
}

// testingOnlyEpochSecrets returns copies of the secrets of the Group's
// current epoch (RFC 9420 §8), by their names in §8's table:
// "sender_data_secret", "exporter_secret", "external_secret",
// "confirmation_key", "membership_key", "resumption_psk",
// "epoch_authenticator", "init_secret" (the one the next epoch is derived
// from) and "sframe_exporter_output", the MLS-Exporter output from which
// the SFrame base keys are derived (RFC 9605 §5.2). It returns nil once
// the Group is no longer a member.
//
// Secrets the Group no longer holds are absent: epoch_secret,
// joiner_secret and welcome_secret are erased as soon as the epoch is set
// up, and encryption_secret once the secret tree is built.
//
// It exists so that tests can look for these secrets in what an untrusted
// server saw: they reach it through internal/testonly.EpochSecrets, which no
// other module can import. It returns secrets: never call it outside tests.
func (g *Group) testingOnlyEpochSecrets() map[string][]byte {
	if !g.Active() {
		return nil
	}
	// The order of group.State.TestingOnlyEpochSecrets.
	names := []string{"sender_data_secret", "exporter_secret", "confirmation_key",
		"membership_key", "resumption_psk", "epoch_authenticator", "external_secret", "init_secret"}
	live := g.st.TestingOnlyEpochSecrets()
	out := make(map[string][]byte, len(live)+1)
	for i, b := range live {
		n := fmt.Sprintf("secret_%d", i) // one group.State added since
		if i < len(names) {
			n = names[i]
		}
		out[n] = bytes.Clone(b)
	}
	if sf, err := g.st.Export(sframeExporterLabel, nil, uint16(defaultSuite().Nk())); err == nil {
		out["sframe_exporter_output"] = sf
	}
	return out
}
