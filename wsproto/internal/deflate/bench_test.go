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

func BenchmarkCompare(b *testing.B) {
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
		for _, level := range []int{1, 2, 3, 4, 6} {
			b.Run(fmt.Sprintf("%s/ours/level=%d", wl.name, level), func(b *testing.B) {
				e := New(15, level, true)
				var out []byte
				in, wire := 0, 0
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					out = e.Flush(e.Write(out[:0], m))
					in += len(m)
					wire += len(out) // our output has no 00 00 ff ff to drop
				}
				b.ReportMetric(float64(in)/float64(wire), "ratio")
			})
		}
		for _, level := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/flate/level=%d", wl.name, level), func(b *testing.B) {
				w := &sliceW{}
				fw, _ := flate.NewWriter(w, level)
				in, wire := 0, 0
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					w.b = w.b[:0]
					fw.Write(m)
					fw.Flush()
					in += len(m)
					wire += len(w.b) - 4
				}
				b.ReportMetric(float64(in)/float64(wire), "ratio")
			})
		}
	}
}

// BenchmarkCompareNoTakeover is BenchmarkCompare without context
// takeover: each message a deflate stream of its own, as
// server_no_context_takeover asks. compress/flate's Writer is Reset
// before each message, as a pooled writer would be.
func BenchmarkCompareNoTakeover(b *testing.B) {
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
		for _, level := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/ours/level=%d", wl.name, level), func(b *testing.B) {
				e := New(15, level, false)
				var out []byte
				in, wire := 0, 0
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					out = e.Flush(e.Write(out[:0], m))
					in += len(m)
					wire += len(out)
				}
				b.ReportMetric(float64(in)/float64(wire), "ratio")
			})
			b.Run(fmt.Sprintf("%s/flate/level=%d", wl.name, level), func(b *testing.B) {
				w := &sliceW{}
				fw, _ := flate.NewWriter(w, level)
				in, wire := 0, 0
				b.SetBytes(int64(len(msgs[0])))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m := msgs[i%len(msgs)]
					w.b = w.b[:0]
					fw.Reset(w)
					fw.Write(m)
					fw.Flush()
					in += len(m)
					wire += len(w.b) - 4
				}
				b.ReportMetric(float64(in)/float64(wire), "ratio")
			})
		}
	}
}
