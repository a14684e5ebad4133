package wsproto

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestWriteContextDoneBeforeSending: a write whose context is already
// cancelled, or past its deadline, sends nothing and leaves the connection
// as it was (it used to be cut with 1006 and no close frame), for Write,
// Ping and a streamed message, from the server and from the client.
func TestWriteContextDoneBeforeSending(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	writes := map[string]func(ctx context.Context, c *Conn) error{
		"Write": func(ctx context.Context, c *Conn) error { return c.Write(ctx, MessageText, []byte("lost")) },
		"Ping":  func(ctx context.Context, c *Conn) error { return c.Ping(ctx, []byte("lost")) },
		"Writer": func(ctx context.Context, c *Conn) error {
			w, err := c.Writer(ctx, MessageBinary)
			if err != nil {
				return err
			}
			_, werr := w.Write(make([]byte, 10000)) // over the buffer: a fragment is due
			if cerr := w.Close(); werr == nil {
				werr = cerr
			}
			return werr
		},
	}
	for _, ctxCase := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"expired", expired, context.DeadlineExceeded}} {
		for name, write := range writes {
			for _, fromServer := range []bool{true, false} {
				server, client := ctPair(t, nil, nil)
				from, to := client, server
				if fromServer {
					from, to = server, client
				}
				if err := write(ctxCase.ctx, from); !errors.Is(err, ctxCase.want) {
					t.Errorf("%s with a %s context, server %v: %v, want %v", name, ctxCase.name, fromServer, err, ctxCase.want)
				}
				ctx := ctCtx(t)
				if err := from.Write(ctx, MessageText, []byte("next")); err != nil {
					t.Fatalf("%s with a %s context, server %v: the next Write: %v", name, ctxCase.name, fromServer, err)
				}
				if _, p, err := to.Read(ctx); err != nil || !bytes.Equal(p, []byte("next")) {
					t.Fatalf("%s with a %s context, server %v: the peer read %d bytes (%q...), %v; want only the next message", name, ctxCase.name, fromServer, len(p), p[:min(len(p), 16)], err)
				}
				if end := from.Err(); end != nil {
					t.Fatalf("%s: connection ended: %v", name, end)
				}
			}
		}
	}
}
