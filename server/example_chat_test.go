package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"

	"wsraise/server"
	"wsraise/wsproto"
)

// room is a chat room. Each member has a queue of its own, and a
// goroutine that sends from it: a broadcast never waits for a member's
// network. A member whose queue is full is not reading fast enough: it is
// closed (1008), so that one slow peer cannot stall the room or make it
// hold unbounded memory.
type room struct {
	mu      sync.Mutex
	members map[*server.WebSocket]chan string
}

const queueLen = 16

func (r *room) join(ws *server.WebSocket) chan string {
	q := make(chan string, queueLen)
	r.mu.Lock()
	r.members[ws] = q
	r.mu.Unlock()
	return q
}

func (r *room) leave(ws *server.WebSocket) {
	r.mu.Lock()
	if q, ok := r.members[ws]; ok {
		delete(r.members, ws)
		close(q)
	}
	r.mu.Unlock()
}

func (r *room) broadcast(msg string) {
	r.mu.Lock()
	var slow []*server.WebSocket
	for ws, q := range r.members {
		select {
		case q <- msg:
		default:
			slow = append(slow, ws)
		}
	}
	r.mu.Unlock()
	for _, ws := range slow {
		r.leave(ws)
		go ws.Close(wsproto.StatusPolicyViolation, "too slow")
	}
}

// A chat room with broadcast: what one member sends, every member
// receives, through a queue per member (see room).
func ExampleApp_chat() {
	rm := &room{members: map[*server.WebSocket]chan string{}}
	app := server.New(server.Options{})
	app.Handle("/chat/{name}", func(ws *server.WebSocket) error {
		if err := ws.Accept(); err != nil {
			return err
		}
		ctx := ws.Context()
		q := rm.join(ws)
		defer rm.leave(ws)
		go func() { // the member's sender
			for msg := range q {
				if ws.SendText(ctx, msg) != nil {
					return
				}
			}
		}()
		for {
			msg, err := ws.ReceiveText(ctx)
			if err != nil {
				return err
			}
			rm.broadcast(ws.PathValue("name") + ": " + msg)
		}
	})

	srv := httptest.NewServer(app)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"
	ctx := context.Background()
	ada, _, _ := wsproto.Dial(ctx, url+"ada", nil)
	bob, _, _ := wsproto.Dial(ctx, url+"bob", nil)
	defer ada.CloseNow()
	defer bob.CloseNow()
	waitMembers(rm, 2)

	ada.Write(ctx, wsproto.MessageText, []byte("hello"))
	_, a, _ := ada.Read(ctx)
	_, b, _ := bob.Read(ctx)
	fmt.Printf("ada got %q, bob got %q\n", a, b)
	// Output: ada got "ada: hello", bob got "ada: hello"
}

// waitMembers waits until the room has n members (both handlers have
// joined): the example's output must not depend on timing.
func waitMembers(rm *room, n int) {
	for {
		rm.mu.Lock()
		k := len(rm.members)
		rm.mu.Unlock()
		if k == n {
			return
		}
		runtime.Gosched()
	}
}
