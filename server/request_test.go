package server_test

// What a handler reads from the handshake request: its query, cookies and
// path values.

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"testing"

	"wsraise/server"
	"wsraise/wsproto"
)

func TestRequestQueryCookiesPathValues(t *testing.T) {
	type seen struct {
		Room, User, Rest, Unknown string
		Token, Q, Empty           string
		Tags                      []string
		HasEmpty, HasAbsent       bool
		Session, Theme            string
		NoCookie                  bool
	}
	app, srv, rec := newApp(t, server.Options{})
	app.Handle("/rooms/{room}/users/{user}/{rest...}", func(ws *server.WebSocket) error {
		r := ws.Request()
		q := r.URL.Query()
		s := seen{
			Room: ws.PathValue("room"), User: ws.PathValue("user"), Rest: ws.PathValue("rest"),
			Unknown: ws.PathValue("nope"),
			Token:   q.Get("token"), Q: q.Get("q"), Empty: q.Get("empty"), Tags: q["tag"],
			HasEmpty: q.Has("empty"), HasAbsent: q.Has("absent"),
		}
		if ck, err := r.Cookie("session"); err == nil {
			s.Session = ck.Value
		}
		if ck, err := r.Cookie("theme"); err == nil {
			s.Theme = ck.Value
		}
		_, err := r.Cookie("absent")
		s.NoCookie = errors.Is(err, http.ErrNoCookie)
		if err := ws.Accept(); err != nil {
			return err
		}
		if err := ws.SendJSON(ws.Context(), s); err != nil {
			return err
		}
		return ws.Close(wsproto.StatusNormalClosure, "")
	})
	c, err := srv.Dial(t, "/rooms/lobby%20one/users/ann/a/b/c.txt?token=t%26k%3D1&tag=x&tag=y&q=a+b&empty=", &wsproto.DialOptions{
		Header: http.Header{"Cookie": {"session=s3cr3t; theme=dark"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got seen
	if err := json.Unmarshal([]byte(c.ReceiveText()), &got); err != nil {
		t.Fatal(err)
	}
	want := seen{
		Room: "lobby one", User: "ann", Rest: "a/b/c.txt", Unknown: "",
		Token: "t&k=1", Q: "a b", Empty: "", Tags: []string{"x", "y"},
		HasEmpty: true, HasAbsent: false,
		Session: "s3cr3t", Theme: "dark", NoCookie: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the handler read\n%+v\nwant\n%+v", got, want)
	}
	c.ExpectClose(wsproto.StatusNormalClosure, "")
	e := rec.end(t)
	checkLog(t, e, slog.LevelInfo, "server", 1000, "")
	if r := e.str("route"); r != "/rooms/{room}/users/{user}/{rest...}" {
		t.Errorf("route %q", r)
	}
}
