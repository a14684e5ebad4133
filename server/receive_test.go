package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"wsraise/internal/race"
	"wsraise/server"
	"wsraise/wsproto"
)

// receiveSizes sit on both sides of the pooled buffer sizes (512 bytes and
// up, in powers of two), with a large message between small ones so that a
// buffer sized for it is reused for the next.
var receiveSizes = []int{0, 1, 511, 512, 513, 4096, 65535, 65536, 65537, 3 << 20, 7, 1 << 20, 100}

func receivePattern(i, size int) []byte {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte(i*31 + j*7 + j>>8)
	}
	return p
}

// TestReceiveMethods sends messages of many sizes and has the handler take
// each with a different receive method. Every message must arrive whole,
// and what Receive and ReceiveBytes returned must still be intact after
// all the later messages: those slices are the caller's, never reused.
func TestReceiveMethods(t *testing.T) {
	methods := []string{"Receive", "ReceiveBytes", "ReceiveAppend", "ReceiveText", "ReceiveJSON"}
	_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		var kept [][]byte
		var keptAt []int
		var dst []byte
		for i, size := range receiveSizes {
			want := receivePattern(i, size)
			var got []byte
			switch method := methods[i%len(methods)]; method {
			case "Receive":
				typ, p, err := ws.Receive(ws.Context())
				if err != nil || typ != wsproto.MessageBinary {
					return fmt.Errorf("message %d: %v %v", i, typ, err)
				}
				got = p
				kept, keptAt = append(kept, p), append(keptAt, i)
			case "ReceiveBytes":
				p, err := ws.ReceiveBytes(ws.Context())
				if err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got = p
				kept, keptAt = append(kept, p), append(keptAt, i)
			case "ReceiveAppend":
				typ, p, err := ws.ReceiveAppend(ws.Context(), dst[:0])
				if err != nil || typ != wsproto.MessageBinary {
					return fmt.Errorf("message %d: %v %v", i, typ, err)
				}
				got, dst = p, p
			case "ReceiveText":
				// The client sends this one as text: the pattern's bytes
				// are not UTF-8, so it sends their hex.
				s, err := ws.ReceiveText(ws.Context())
				if err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got, want = []byte(s), fmt.Appendf(nil, "%x", want)
			case "ReceiveJSON":
				var v []byte // JSON: a base64 string
				if err := ws.ReceiveJSON(ws.Context(), &v); err != nil {
					return fmt.Errorf("message %d: %v", i, err)
				}
				got = v
			}
			if !bytes.Equal(got, want) {
				return server.Raise(4000, fmt.Sprintf("message %d (%d bytes) differs", i, size))
			}
		}
		for k, p := range kept {
			if !bytes.Equal(p, receivePattern(keptAt[k], receiveSizes[keptAt[k]])) {
				return server.Raise(4001, fmt.Sprintf("message %d changed after it was received", keptAt[k]))
			}
		}
		return ws.Close(wsproto.StatusNormalClosure, "all intact")
	})
	c := srv.Connect(t, "/ws")
	for i, size := range receiveSizes {
		p := receivePattern(i, size)
		switch methods[i%len(methods)] {
		case "ReceiveText":
			c.SendText(fmt.Sprintf("%x", p))
		case "ReceiveJSON":
			c.SendText(fmt.Sprintf("%q", bytesToBase64(p)))
		default:
			c.SendBytes(p)
		}
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "all intact")
}

// TestReceiveAppendAllocs: a handler that receives into a reused slice
// allocates nothing per message in steady state (counted over the whole
// process, client included, whose writes allocate nothing either). 64 KiB
// fills its pooled buffer exactly, so the end of each message is found by
// the one-byte probe.
func TestReceiveAppendAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocations are counted without -race (.ci/run does)")
	}
	const warm, n = 20, 500
	for _, size := range []int{16, 4096, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			result := make(chan float64, 1)
			_, srv, _ := serve(t, server.Options{}, func(ws *server.WebSocket) error {
				if err := ws.Accept(); err != nil {
					return err
				}
				var buf []byte
				var ms runtime.MemStats
				var before uint64
				for i := range warm + n {
					if i == warm {
						runtime.ReadMemStats(&ms)
						before = ms.Mallocs
					}
					_, p, err := ws.ReceiveAppend(ws.Context(), buf[:0])
					if err != nil {
						return err
					}
					buf = p
				}
				runtime.ReadMemStats(&ms)
				result <- float64(ms.Mallocs-before) / n
				return ws.Close(wsproto.StatusNormalClosure, "")
			})
			c := srv.Connect(t, "/ws")
			msg := receivePattern(1, size)
			ctx := context.Background()
			for range warm + n {
				if err := c.Conn.Write(ctx, wsproto.MessageBinary, msg); err != nil {
					t.Fatal(err)
				}
			}
			c.ExpectClose(wsproto.StatusNormalClosure, "")
			// A per-message allocation shows as 1 or more; other goroutines
			// of the test (the HTTP server, the client) add a few in all.
			if allocs := <-result; allocs > 0.25 {
				t.Errorf("%.2f allocations per message, want 0", allocs)
			}
		})
	}
}

func bytesToBase64(p []byte) string {
	b, _ := json.Marshal(p)
	return string(b[1 : len(b)-1])
}
