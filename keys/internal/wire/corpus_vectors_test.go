package wire

import (
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// TestCorpusVectors round-trips every encoded structure that appears in the
// other interop vector files: welcomes, key packages, trees, proposals,
// commits and framed messages. The encoding does not depend on the cipher
// suite, so all suites are used.
func TestCorpusVectors(t *testing.T) {
	counts := map[string]int{}
	check := func(kind, name string, data []byte, v wireValue) {
		t.Helper()
		counts[kind]++
		roundTrip(t, name, data, v)
	}
	message := func(name string, data []byte, want ...WireFormat) {
		t.Helper()
		var m MLSMessage
		check("MLSMessage", name, data, &m)
		for _, wf := range want {
			if m.WireFormat == wf {
				return
			}
		}
		t.Errorf("%s: wire format %d, want one of %v", name, m.WireFormat, want)
	}

	var welcome []struct {
		Welcome vectors.HexBytes `json:"welcome"`
	}
	vectors.Load(t, "welcome", &welcome)
	for i, v := range welcome {
		message(fmt.Sprintf("welcome[%d].welcome", i), v.Welcome, WireFormatWelcome)
	}

	for _, file := range []string{"passive-client-welcome", "passive-client-handling-commit", "passive-client-random"} {
		var pcs []struct {
			Welcome     vectors.HexBytes `json:"welcome"`
			RatchetTree vectors.HexBytes `json:"ratchet_tree"`
			Epochs      []struct {
				Proposals []vectors.HexBytes `json:"proposals"`
				Commit    vectors.HexBytes   `json:"commit"`
			} `json:"epochs"`
		}
		vectors.Load(t, file, &pcs)
		for i, pc := range pcs {
			name := fmt.Sprintf("%s[%d]", file, i)
			message(name+".welcome", pc.Welcome, WireFormatWelcome)
			if pc.RatchetTree != nil {
				check("RatchetTree", name+".ratchet_tree", pc.RatchetTree, new(RatchetTree))
			}
			for j, e := range pc.Epochs {
				for k, p := range e.Proposals {
					message(fmt.Sprintf("%s.epochs[%d].proposals[%d]", name, j, k), p, WireFormatPublicMessage, WireFormatPrivateMessage)
				}
				message(fmt.Sprintf("%s.epochs[%d].commit", name, j), e.Commit, WireFormatPublicMessage, WireFormatPrivateMessage)
			}
		}
	}

	var treekem []struct {
		UpdatePaths []struct {
			UpdatePath vectors.HexBytes `json:"update_path"`
		} `json:"update_paths"`
	}
	vectors.Load(t, "treekem", &treekem)
	for i, v := range treekem {
		for j, u := range v.UpdatePaths {
			check("UpdatePath", fmt.Sprintf("treekem[%d].update_paths[%d]", i, j), u.UpdatePath, new(UpdatePath))
		}
	}

	var ops []struct {
		Proposal vectors.HexBytes `json:"proposal"`
	}
	vectors.Load(t, "tree-operations", &ops)
	for i, v := range ops {
		check("Proposal", fmt.Sprintf("tree-operations[%d].proposal", i), v.Proposal, new(Proposal))
	}

	var mp []struct {
		Proposal        vectors.HexBytes `json:"proposal"`
		ProposalPub     vectors.HexBytes `json:"proposal_pub"`
		ProposalPriv    vectors.HexBytes `json:"proposal_priv"`
		Commit          vectors.HexBytes `json:"commit"`
		CommitPub       vectors.HexBytes `json:"commit_pub"`
		CommitPriv      vectors.HexBytes `json:"commit_priv"`
		ApplicationPriv vectors.HexBytes `json:"application_priv"`
	}
	vectors.Load(t, "message-protection", &mp)
	for i, v := range mp {
		name := fmt.Sprintf("message-protection[%d]", i)
		check("Proposal", name+".proposal", v.Proposal, new(Proposal))
		check("Commit", name+".commit", v.Commit, new(Commit))
		message(name+".proposal_pub", v.ProposalPub, WireFormatPublicMessage)
		message(name+".commit_pub", v.CommitPub, WireFormatPublicMessage)
		message(name+".proposal_priv", v.ProposalPriv, WireFormatPrivateMessage)
		message(name+".commit_priv", v.CommitPriv, WireFormatPrivateMessage)
		message(name+".application_priv", v.ApplicationPriv, WireFormatPrivateMessage)
	}

	var th []struct {
		AuthenticatedContent vectors.HexBytes `json:"authenticated_content"`
	}
	vectors.Load(t, "transcript-hashes", &th)
	for i, v := range th {
		check("AuthenticatedContent", fmt.Sprintf("transcript-hashes[%d]", i), v.AuthenticatedContent, new(AuthenticatedContent))
	}

	t.Logf("round-tripped: %v", counts)
	for _, kind := range []string{"MLSMessage", "RatchetTree", "UpdatePath", "Proposal", "Commit", "AuthenticatedContent"} {
		if counts[kind] == 0 {
			t.Errorf("no %s checked", kind)
		}
	}
}
