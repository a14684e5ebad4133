// Package wsproto implements the WebSocket protocol, RFC 6455: the opening
// handshake on both sides, frames, masking, fragmentation, UTF-8 checking
// and the closing handshake. It knows nothing of routes or application
// errors; package wsraise/server builds the framework on it.
//
// # Connecting
//
// A server turns an HTTP request into a connection with Upgrade, from any
// net/http handler:
//
//	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
//		c, err := wsproto.Upgrade(w, r, nil)
//		if err != nil {
//			return // Upgrade has answered with 400, 405, 426 or 501
//		}
//		for {
//			typ, msg, err := c.Read(r.Context())
//			if err != nil {
//				return // the connection has ended; err tells how
//			}
//			c.Write(r.Context(), typ, msg)
//		}
//	})
//
// The hijack does not cancel r.Context(); it ends when the handler returns.
// A client connects with Dial:
//
//	c, _, err := wsproto.Dial(ctx, "wss://example.com/echo", nil)
//
// Upgrade does not check the Origin header; the server package does, and so
// must any server that uses cookies or other ambient credentials: a browser
// sends them along with a cross-site WebSocket handshake.
//
// # Messages
//
// Read returns a whole message; Reader streams one, for messages too large
// to hold. Write sends a message in one frame; Writer streams one as
// fragments, each the size of the write buffer. Text messages must be valid
// UTF-8 both ways: a received one that is not fails the connection with
// 1007 as soon as the invalid byte arrives, even in the middle of a
// fragment; Write refuses to send one.
//
// Control frames are handled inside Read and Reader: a ping is answered
// with a pong carrying the same payload, a pong is passed to the OnPong
// option, a close frame is answered and ends the connection. So something
// must be reading for pings to be answered and closes to be noticed.
//
// # Limits
//
// A message larger than the read limit (16 MiB unless set otherwise) fails
// the connection with 1009 as soon as a frame header announces it, before
// its payload is read; memory per connection is bounded by the limit, not
// by what a peer claims. Buffers default to 4 KiB; write buffers are
// pooled, so an idle connection holds only its read buffer.
//
// # Concurrency
//
// Any number of goroutines may write at once: each message goes out whole,
// and a message streamed with Writer holds back other messages, but not
// control frames, until its writer is closed. One goroutine reads at a
// time; concurrent reads are serialised, which is rarely what you want.
// Close and CloseNow may be called from any goroutine, at any time.
//
// # Deadlines and cancellation
//
// Every read and write takes a context. Its deadline becomes the
// connection's deadline for that operation, and its cancellation interrupts
// it. The state afterwards is defined:
//
//   - A read interrupted while waiting for a message, before any of it has
//     arrived, returns the context's error and changes nothing: the
//     connection is as it was, so a deadline works as an idle timeout.
//   - A read interrupted in the middle of a message returns the error; the
//     part already read is lost to the caller, and the next Read or Reader
//     skips the rest of that message. Frame headers and control frames are
//     consumed only when whole, so the stream never loses its place.
//   - A write that fails or is interrupted closes the connection (the peer
//     sees 1006): part of a frame may have gone out, and nothing valid can
//     follow it.
//
// A context with neither deadline nor cancellation, like
// context.Background, costs nothing. Write, ReadAppend with a reused buffer,
// Reader and Writer then allocate nothing per message; Read returns each
// message in a new slice, which is its one allocation.
//
// # Memory
//
// A connection holds no read buffer while it waits for the network: its
// 4 KiB buffer goes back to a pool whenever it is empty and the socket has
// nothing to read, and write buffers are pooled too. What an idle
// connection costs is the goroutine waiting in Read, its Conn (under 1 KB)
// and the socket. A handler may return from net/http after Upgrade and serve
// the connection from a goroutine of its own: net/http then frees what it
// held for the request (about 6 KiB).
//
// # Closing
//
// Close(code, reason) performs the closing handshake: it sends a close
// frame, waits for the peer's (up to CloseTimeout, 5s by default), and closes
// the TCP connection; a server closes it at once, a client gives the server
// a moment to close first, as RFC 6455 section 7.1.1 asks. A close frame
// received from the peer is answered with the same code at once, and the
// read returns a *CloseError with Received set. A protocol violation by the
// peer is answered with a close frame with 1002, 1007 or 1009, and the read
// returns a *CloseError with that code and Received unset. After a close
// frame has been sent, no data frame follows it; writes return the
// *CloseError. CloseStatus extracts the code from any error.
package wsproto
