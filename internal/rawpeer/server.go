package rawpeer

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Server is a WebSocket server written by hand, on a loopback port, for
// driving wsraise's client.
type Server struct {
	t     testing.TB
	ln    net.Listener
	done  chan struct{} // closed when the test ends
	wg    sync.WaitGroup
	peers chan *Peer // connections for Accept
}

// Handler plays the server's part on one connection, once the request r
// of the opening handshake has been read through br: it writes the
// response (Response, to accept) and what follows, with Frame.Encode and
// ReadFrame. It runs on a goroutine of its own, so it must not fail the
// test; done is closed when the test ends. The connection is closed when
// it returns.
type Handler func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{})

// Serve serves handle on 127.0.0.1 until the test ends, then waits for
// every handler to return.
func Serve(t testing.TB, handle Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, ln: ln, done: make(chan struct{})}
	s.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(2 * Wait)) // a bound on failures only
				br := bufio.NewReader(nc)
				r, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				handle(nc, br, r, s.done)
			})
		}
	})
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Listen serves on 127.0.0.1 until the test ends: it answers each opening
// handshake with respond(r), or, for nil, accepts it, and hands the
// connection to Accept.
func Listen(t testing.TB, respond func(r *http.Request) string) *Server {
	t.Helper()
	peers := make(chan *Peer)
	s := Serve(t, func(nc net.Conn, br *bufio.Reader, r *http.Request, done <-chan struct{}) {
		resp := Response(r, "")
		if respond != nil {
			resp = respond(r)
		}
		io.WriteString(nc, resp)
		select {
		case peers <- &Peer{T: t, Conn: nc, R: br}:
			<-done // the test has the connection until it ends
		case <-done:
		}
	})
	s.peers = peers
	return s
}

// Accept returns the next connection of a Listen server, as a server
// Peer.
func (s *Server) Accept() *Peer {
	s.t.Helper()
	select {
	case p := <-s.peers:
		return p
	case <-time.After(Wait):
		s.t.Fatal("rawpeer: no connection to the server")
		return nil
	}
}

// Addr is the server's address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the ws:// URL of path on the server.
func (s *Server) URL(path string) string { return "ws://" + s.Addr() + path }
