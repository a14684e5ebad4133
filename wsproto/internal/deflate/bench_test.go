package deflate

import (
	"compress/flate"
	"fmt"
	"testing"
)

func benchChat(i int) []byte {
	return fmt.Appendf(nil, `{"type":"message","room":"general","id":%d,"user":{"id":1042,"name":"alice","avatar":"https://cdn.example.com/a/1042.png"},"text":"Hello everyone! Message number %d: has anyone tried the new build yet?","ts":"2024-05-17T09:%02d:%02dZ","reactions":[{"emoji":"+1","count":%d}]}`, 100000+i, i, i%60, (i*7)%60, i%5)
}

func benchDoc(n int) []byte {
	b := []byte("[")
	for i := 0; len(b) < n-400; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, benchChat(i)...)
	}
	return append(b, ']')
}

type sliceW struct{ b []byte }

func (w *sliceW) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// BenchmarkCompare compresses the same messages with this encoder and
// with compress/flate, with context takeover: one stream for all
// messages. Each reports its ratio.
func BenchmarkCompare(b *testing.B) { benchCompare(b, true, []int{1, 2, 3, 4, 6}) }

// BenchmarkCompareNoTakeover is BenchmarkCompare without context
// takeover: each message a deflate stream of its own, as
// server_no_context_takeover asks. compress/flate's Writer is Reset
// before each message, as a pooled writer would be.
func BenchmarkCompareNoTakeover(b *testing.B) { benchCompare(b, false, []int{1, 2}) }

func benchCompare(b *testing.B, takeover bool, ourLevels []int) {
	doc := benchDoc(64 << 10)
	loads := []struct {
		name string
		msg  func(i int) []byte
	}{{"chat", benchChat}, {"doc64K", func(int) []byte { return doc }}}
	for _, wl := range loads {
		msgs := make([][]byte, 64)
		for i := range msgs {
			msgs[i] = wl.msg(i)
		}
		run := func(name string, compress func(m []byte) int) {
			b.Run(wl.name+"/"+name, func(b *testing.B) {
				in, wire := 0, 0
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					in += len(m)
					wire += compress(m)
				}
				b.ReportMetric(float64(in)/float64(wire), "ratio")
			})
		}
		for _, level := range ourLevels {
			e := New(15, level, takeover)
			var out []byte
			run(fmt.Sprintf("ours/level=%d", level), func(m []byte) int {
				out = e.Flush(e.Write(out[:0], m))
				return len(out) // our output has no 00 00 ff ff to drop
			})
		}
		for _, level := range []int{1, 2} {
			w := &sliceW{}
			fw, _ := flate.NewWriter(w, level)
			run(fmt.Sprintf("flate/level=%d", level), func(m []byte) int {
				w.b = w.b[:0]
				if !takeover {
					fw.Reset(w)
				}
				fw.Write(m)
				fw.Flush()
				return len(w.b) - 4 // the sync flush's 00 00 ff ff
			})
		}
	}
}
