package wsproto

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSmokeEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		for {
			typ, p, err := c.Read(context.Background())
			if err != nil {
				t.Logf("server read: %v", err)
				return
			}
			if err := c.Write(context.Background(), typ, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"hello", strings.Repeat("x", 70000), ""} {
		if err := c.Write(ctx, MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		typ, p, err := c.Read(ctx)
		if err != nil || typ != MessageText || string(p) != m {
			t.Fatalf("echo: %v %v %d", typ, err, len(p))
		}
	}
	w, _ := c.Writer(ctx, MessageBinary)
	for i := 0; i < 10; i++ {
		w.Write([]byte(strings.Repeat("ab", 1000)))
	}
	w.Close()
	_, p, err := c.Read(ctx)
	if err != nil || len(p) != 20000 {
		t.Fatal(err, len(p))
	}
	if err := c.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	t.Log(c.Err())
}
