package group

import (
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TestJoinGroupInfoExtensions checks the rules of RFC 9420 §13.4 a joiner
// applies to a GroupInfo: it supports every GroupContext extension (the
// fixed joiner lists none beyond the defaults), no list holds an
// extension type twice, and unknown GroupInfo extensions are ignored. Each
// GroupInfo is otherwise valid: the harness of FuzzJoinPlaintext signs it
// again and recomputes its confirmation tag, as a server that made up the
// group could.
func TestJoinGroupInfoExtensions(t *testing.T) {
	z := fuzzJoinSeeds(t)
	sd := z.seeds[0]
	if sd.who != 0 || sd.rt != nil {
		t.Fatal("seed 0 is not a Welcome to the fixed joiner with the tree inside")
	}
	ext := func(ty wire.ExtensionType) wire.Extension { return wire.Extension{Type: ty, Data: []byte{}} }
	appID := func() wire.Extension {
		return wire.Extension{Type: wire.ExtensionApplicationID, Data: []byte{1, 'x'}}
	}
	cases := map[string]struct {
		change func(gi *wire.GroupInfo)
		ok     bool
	}{
		"unchanged":                      {func(gi *wire.GroupInfo) {}, true},
		"default GroupContext extension": {func(gi *wire.GroupInfo) { gi.GroupContext.Extensions = append(gi.GroupContext.Extensions, appID()) }, true},
		"unknown GroupInfo extension":    {func(gi *wire.GroupInfo) { gi.Extensions = append(gi.Extensions, ext(0xff01)) }, true},
		"unsupported GroupContext extension": {func(gi *wire.GroupInfo) {
			gi.GroupContext.Extensions = append(gi.GroupContext.Extensions, ext(0xff00))
		}, false},
		"GroupContext extension twice": {func(gi *wire.GroupInfo) {
			gi.GroupContext.Extensions = append(gi.GroupContext.Extensions, appID(), appID())
		}, false},
		"GroupInfo extension twice": {func(gi *wire.GroupInfo) {
			gi.Extensions = append(gi.Extensions, ext(0xff01), ext(0xff01))
		}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var gi wire.GroupInfo
			if err := codec.Unmarshal(sd.gi, &gi); err != nil {
				t.Fatal(err)
			}
			c.change(&gi)
			z.fixupInfo(z.joiners[0], sd.gs, &gi, nil)
			enc, err := codec.Marshal(&gi)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = z.join(t, sd.who, sd.gs, enc, nil)
			if c.ok && err != nil {
				t.Fatalf("Join = %v, want success", err)
			}
			if !c.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Join = %v, want ErrInvalid", err)
			}
		})
	}
}
