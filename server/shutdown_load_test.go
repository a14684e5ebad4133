package server_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wsraise/server"
	"wsraise/server/wstest"
	"wsraise/wsproto"
)

// Shutdown under load: 50 clients exchange messages with a route that
// echoes each of theirs and, from a second goroutine, pushes a numbered
// stream of its own. Shutdown is called in the middle. Every client must
// receive the shutdown close frame; every message whose send returned nil
// on the server must have arrived whole and in order before it; Shutdown
// must return within its context.

const (
	loadClients  = 50
	loadWindow   = 8                      // client messages in flight per connection
	loadShutdown = 5 * time.Second        // Shutdown's context
	loadWarmup   = 20                     // stream messages and echoes each client sees before Shutdown
	loadMaxPad   = 3000                   // largest padding of a message
	loadPace     = 2 * time.Millisecond   // between two stream messages: the clients keep up
	loadPad      = "0123456789abcdefghij" // padding pattern
)

// loadMessage is message n of a stream ("s") or an echo ("e"): its kind,
// its number and a padding whose length depends on both.
func loadMessage(kind string, n int) string {
	size := (n*7919 + len(kind)*31) % loadMaxPad
	return kind + ":" + strconv.Itoa(n) + ":" + strings.Repeat(loadPad, size/len(loadPad)+1)[:size]
}

// loadSent is what a connection's handler sent successfully, and the
// first gap it saw in the client's numbers.
type loadSent struct {
	stream, echoes int // messages whose send returned nil
	gap            string
}

// loadReport collects the handlers' reports.
type loadReport struct {
	mu   sync.Mutex
	all  map[string]loadSent
	full chan map[string]loadSent // receives all once every handler has reported
}

// loadRoute serves /load?id=k: it echoes each number the client sends (as
// "e:n:..."), and pushes "s:n:..." messages from a second goroutine, until a
// send or a receive fails. With returnAtOnce it returns the error of a
// failed echo at once, as most handlers do; otherwise it goes on receiving
// until the disconnect. It reports what it sent.
func loadRoute(rep *loadReport, returnAtOnce bool) server.Handler {
	return func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		id := ws.Request().URL.Query().Get("id")
		var sent loadSent
		stop := make(chan struct{})
		pushed := make(chan struct{})
		go func() {
			defer close(pushed)
			tick := time.NewTicker(loadPace)
			defer tick.Stop()
			for ; ; sent.stream++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if ws.SendText(ws.Context(), loadMessage("s", sent.stream)) != nil {
					return
				}
			}
		}()
		var err error
		sending := true
		for want := 0; ; want++ {
			var msg string
			if msg, err = ws.ReceiveText(ws.Context()); err != nil {
				break
			}
			n, _ := strconv.Atoi(msg)
			if n != want && sent.gap == "" {
				sent.gap = fmt.Sprintf("received message %d from the client after %d", n, want-1)
			}
			want = n
			if !sending {
				continue
			}
			if err = ws.SendText(ws.Context(), loadMessage("e", n)); err != nil {
				if returnAtOnce {
					break
				}
				sending = false
				continue
			}
			sent.echoes++
		}
		close(stop)
		<-pushed
		rep.mu.Lock()
		rep.all[id] = sent
		if len(rep.all) == loadClients {
			rep.full <- rep.all
		}
		rep.mu.Unlock()
		return err
	}
}

// loadReceived is what a client received.
type loadReceived struct {
	stream, echoes int
	lastEcho       int    // the number of the last echo
	echoGap        string // the first gap in the echoes' numbers
	end            error
	faults         []string
}

// loadClient sends numbered messages, with at most loadWindow unanswered,
// and reads everything until the connection ends, checking each message.
// warm is signalled once the client has seen loadWarmup of each kind.
func loadClient(c *wsproto.Conn, warm chan<- struct{}) loadReceived {
	var r loadReceived
	slots := make(chan struct{}, loadWindow)
	readDone := make(chan struct{})
	var wrote sync.WaitGroup
	wrote.Go(func() {
		ctx := context.Background()
		for n := 0; ; n++ {
			select {
			case slots <- struct{}{}:
			case <-readDone:
				return
			}
			if c.Write(ctx, wsproto.MessageText, []byte(strconv.Itoa(n))) != nil {
				return // the close has come
			}
		}
	})
	warmed := false
	ctx, cancel := context.WithTimeout(context.Background(), 2*wstest.Timeout)
	defer cancel()
	for {
		typ, p, err := c.Read(ctx)
		if err != nil {
			r.end = err
			break
		}
		msg := string(p)
		switch {
		case typ != wsproto.MessageText:
			r.faults = append(r.faults, fmt.Sprintf("a %v message", typ))
		case strings.HasPrefix(msg, "s:"):
			if want := loadMessage("s", r.stream); msg != want {
				r.faults = append(r.faults, fmt.Sprintf("stream message %d: got %.40q (%d bytes), want %.40q (%d bytes)", r.stream, msg, len(msg), want, len(want)))
			}
			r.stream++
		case strings.HasPrefix(msg, "e:"):
			// The echoes' numbers must increase; a gap is a message the
			// server dropped (see TestShutdownUnderLoadReturnAtOnce).
			n, _ := strconv.Atoi(strings.SplitN(msg, ":", 3)[1])
			if want := loadMessage("e", n); msg != want || n <= r.lastEcho && r.echoes > 0 {
				r.faults = append(r.faults, fmt.Sprintf("echo %d after %d: got %.40q (%d bytes), want %.40q (%d bytes)", n, r.lastEcho, msg, len(msg), want, len(want)))
			}
			if n != r.lastEcho+1 && r.echoes > 0 && r.echoGap == "" {
				r.echoGap = fmt.Sprintf("echo %d after %d", n, r.lastEcho)
			}
			r.lastEcho = n
			r.echoes++
			<-slots
		default:
			r.faults = append(r.faults, fmt.Sprintf("unexpected message %.40q", msg))
		}
		if len(r.faults) > 5 {
			c.CloseNow()
		}
		if !warmed && r.stream >= loadWarmup && r.echoes >= loadWarmup {
			warmed = true
			warm <- struct{}{}
		}
	}
	close(readDone)
	wrote.Wait()
	if !warmed {
		warm <- struct{}{}
	}
	return r
}

func TestShutdownUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		code wsproto.StatusCode // Options.ShutdownCode
		want wsproto.StatusCode
	}{
		{"default 1001", 0, wsproto.StatusGoingAway},
		{"option 1012", wsproto.StatusServiceRestart, wsproto.StatusServiceRestart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testShutdownUnderLoad(t, tc.code, tc.want, false)
		})
	}
}

// The same with the handler's usual pattern, `if err := ws.SendText(ws.Context(), ...);
// err != nil { return err }`, and checking that the messages the handler
// receives during the shutdown, and so their echoes, have no gap.
func TestShutdownUnderLoadReturnAtOnce(t *testing.T) {
	testShutdownUnderLoad(t, 0, wsproto.StatusGoingAway, true)
}

func testShutdownUnderLoad(t *testing.T, code, want wsproto.StatusCode, returnAtOnce bool) {
	app, srv, rec := newApp(t, server.Options{ShutdownCode: code})
	rep := &loadReport{all: map[string]loadSent{}, full: make(chan map[string]loadSent, 1)}
	app.Handle("/load", loadRoute(rep, returnAtOnce))

	warm := make(chan struct{}, loadClients)
	results := make([]loadReceived, loadClients)
	var clients sync.WaitGroup
	for i := range loadClients {
		c, err := srv.Dial(t, "/load?id="+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		clients.Go(func() { results[i] = loadClient(c.Conn, warm) })
	}
	for range loadClients {
		within(t, warm, "every client's first messages")
	}

	ctx, cancel := context.WithTimeout(context.Background(), loadShutdown)
	defer cancel()
	start := time.Now()
	err := app.Shutdown(ctx)
	took := time.Since(start)
	if err != nil {
		t.Errorf("Shutdown: %v after %v, want nil within %v", err, took, loadShutdown)
	}
	done := make(chan struct{})
	go func() { clients.Wait(); close(done) }()
	within(t, done, "the clients' ends")
	all := within(t, rep.full, "every handler's report")

	var streamed, echoed int
	for i, r := range results {
		s := all[strconv.Itoa(i)]
		streamed += r.stream
		echoed += r.echoes
		for _, f := range r.faults {
			t.Errorf("client %d: %s", i, f)
		}
		if returnAtOnce && s.gap != "" {
			t.Errorf("client %d's handler: %s", i, s.gap)
		}
		if returnAtOnce && r.echoGap != "" {
			t.Errorf("client %d: %s", i, r.echoGap)
		}
		var ce *wsproto.CloseError
		if !errors.As(r.end, &ce) || !ce.Received || ce.Code != want || ce.Reason != "server shutting down" {
			t.Errorf("client %d: the connection ended with %v, want close %d %q from the server", i, r.end, want, "server shutting down")
		}
		// Every message the server sent successfully arrived; a send that
		// failed may have gone out whole all the same, never more than one.
		if r.stream < s.stream || r.stream > s.stream+1 {
			t.Errorf("client %d: received %d stream messages, the server sent %d", i, r.stream, s.stream)
		}
		if r.echoes < s.echoes || r.echoes > s.echoes+1 {
			t.Errorf("client %d: received %d echoes, the server sent %d", i, r.echoes, s.echoes)
		}
	}
	t.Logf("%d clients: %d stream messages and %d echoes received in order; Shutdown took %v", loadClients, streamed, echoed, took)

	// The app logged each end as its own close, at info level.
	for range loadClients {
		e := rec.next(t)
		if e.msg != "websocket connection ended" || e.str("closed_by") != "server" || e.int("code") != int64(want) {
			t.Errorf("log record %q %v, want the end of a connection closed by the server with %d", e.msg, e.attrs, want)
		}
	}
}
