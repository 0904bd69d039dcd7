package wire

import (
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// benchDecodeEncode measures decoding then re-encoding data as *T.
func benchDecodeEncode[T any, P interface {
	*T
	wireValue
}](b *testing.B, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	buf := make([]byte, 0, len(data))
	for b.Loop() {
		v := P(new(T))
		if err := codec.Unmarshal(data, v); err != nil {
			b.Fatal(err)
		}
		bld := codec.NewBuilder(buf[:0])
		v.MarshalMLS(bld)
		if _, err := bld.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMLSMessage(b *testing.B) {
	var vs []messagesVector
	vectors.Load(b, "messages", &vs)
	b.Run("PublicMessageCommit", func(b *testing.B) { benchDecodeEncode[MLSMessage](b, vs[0].PublicMessageCommit) })
	b.Run("PrivateMessage", func(b *testing.B) { benchDecodeEncode[MLSMessage](b, vs[0].PrivateMessage) })
	b.Run("Welcome", func(b *testing.B) { benchDecodeEncode[MLSMessage](b, vs[0].MLSWelcome) })
	b.Run("KeyPackage", func(b *testing.B) { benchDecodeEncode[MLSMessage](b, vs[0].MLSKeyPackage) })
}

func BenchmarkRatchetTree(b *testing.B) {
	var tk []struct {
		Tree vectors.HexBytes `json:"ratchet_tree"`
	}
	vectors.Load(b, "treekem", &tk)
	largest := tk[0].Tree
	for _, v := range tk {
		if len(v.Tree) > len(largest) {
			largest = v.Tree
		}
	}
	var tree RatchetTree
	if err := codec.Unmarshal(largest, &tree); err != nil {
		b.Fatal(err)
	}
	benchDecodeEncode[RatchetTree](b, largest)
	b.ReportMetric(float64(len(tree)), "nodes")
}
