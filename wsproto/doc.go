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
// # HTTP/2
//
// A browser opens a WebSocket on an HTTP/2 connection it already has when
// the server advertises extended CONNECT (RFC 8441): one TCP and TLS
// handshake for a page's requests and all its WebSockets. Upgrade accepts
// such a request as it accepts an HTTP/1.1 upgrade, with the same options
// and the same connection after; it answers 200 instead of 101. net/http
// advertises it only when the program starts with GODEBUG=http2xconnect=1
// in its environment (ExtendedConnect tells); without it, browsers use
// HTTP/1.1 for WebSockets, which works as before.
//
// Nothing is hijacked over HTTP/2: the stream belongs to the handler, and
// returning from the handler ends it. So a handler that goes on with the
// connection in other goroutines must not return before it ends:
//
//	c, err := wsproto.Upgrade(w, r, nil)
//	if err != nil {
//		return
//	}
//	go serve(c)
//	<-c.Done() // over HTTP/2, returning would end the stream
//
// Its flow control is HTTP/2's: a peer that stops reading blocks writes,
// as over TCP, up to the write timeout. A peer that resets the stream
// (RST_STREAM) is a disconnect, 1006.
//
// A client dials over HTTP/2 with DialOptions.HTTP2, a transport that can
// send an extended CONNECT, such as golang.org/x/net/http2's: each Dial
// through it opens a stream on a connection it shares.
//
// # What Upgrade leaves to the application
//
// Upgrade's defaults do not make a server safe to expose. Three things are
// left to the application; package server does all three.
//
//   - The Origin check. A browser sends its cookies along with a handshake
//     from any site (RFC 6455 section 10.2). Refuse a foreign Origin with
//     403 before calling Upgrade, as the Upgrade example does.
//   - A write timeout. Without one, a write to a peer that stops reading
//     blocks until the connection closes. Set UpgradeOptions.WriteTimeout.
//   - Keepalive. A peer that is gone without closing the connection is
//     noticed late, by TCP alone, and proxies may cut a connection that
//     stays quiet. Ping the peer on a timer, and close the connection when
//     pongs stop coming. Pongs reach OnPong while something reads.
//
// All three, in a handler:
//
//	// Before Upgrade: refuse a foreign Origin (see the Upgrade example).
//	var lastPong atomic.Int64 // Unix nanoseconds
//	c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{
//		WriteTimeout: 10 * time.Second,
//		OnPong:       func([]byte) { lastPong.Store(time.Now().UnixNano()) },
//	})
//	if err != nil {
//		return
//	}
//	lastPong.Store(time.Now().UnixNano())
//	go func() {
//		t := time.NewTicker(30 * time.Second)
//		defer t.Stop()
//		for {
//			select {
//			case <-c.Done():
//				return
//			case <-t.C:
//			}
//			if time.Since(time.Unix(0, lastPong.Load())) > time.Minute {
//				c.CloseNow() // two pings went unanswered
//				return
//			}
//			c.Ping(context.Background(), nil) // bounded by WriteTimeout
//		}
//	}()
//	// Then read in a loop, as above: the reads deliver the pongs.
//
// # Messages
//
// Read returns a whole message; Reader streams one, for messages too large
// to hold. Write sends a message in one frame; Writer streams one as
// fragments (small writes gathered up to the write buffer's size, a large
// write sent on at once). Text messages must be valid
// UTF-8 both ways: a received one that is not fails the connection with
// 1007 as soon as the invalid byte arrives, even in the middle of a
// fragment; Write refuses to send one.
//
// To pass large messages on (an echo, a proxy), stream them: Reader into
// Writer with io.CopyBuffer and a 32 KiB buffer sends each piece on as it
// arrives, as the Writer example does. For large messages this beats
// reading each one whole, then writing it, both in round trips and in
// CPU: sending overlaps arriving, and the message is never held whole.
// For messages of 64 KiB and less, ReadAppend then Write is as fast or
// faster (docs/BENCH.md).
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
// by what a peer claims. Buffers default to 4 KiB and come from pools:
// see Memory for what an idle connection keeps.
//
// # Compression
//
// permessage-deflate (RFC 7692) is off unless asked for: set Compression in
// UpgradeOptions to accept it, in DialOptions to offer it.
//
//	c, err := wsproto.Upgrade(w, r, &wsproto.UpgradeOptions{
//		Compression: &wsproto.CompressionOptions{},
//	})
//
// The server accepts the first offer it can honour and declines the rest,
// malformed ones included; the client fails the handshake on a response it
// did not ask for. Conn.Extensions tells what was agreed. Once it is, Write
// compresses every message from the threshold up (128 bytes by default:
// under it a message compressed on its own saves a few bytes at most) and
// Writer compresses on the fly, sending the compressed bytes as fragments;
// control frames are never compressed. Messages arrive compressed or not,
// as the peer chose, and Read, ReadAppend and Reader inflate them. The
// compressor is wsraise's own (internal/deflate), so that it can honour
// any window the peer asks for, 256 bytes to 32 KiB, and keep little
// between messages; compress/flate inflates.
//
// By default each message this endpoint sends may refer to the ones it sent
// before (context takeover, RFC 7692 section 7.1.1), whenever the peer
// allows it: short, similar messages such as a chat's compress far better.
// The compressor then keeps its state for the connection's life once it
// has sent a compressed message: its window plus a hash table of at most
// 8 KiB, 40 KiB for the default 32 KiB window. NoContextTakeover makes
// each message stand alone, announced in the handshake: the window and
// table are then borrowed from a pool for one message at a time too, and
// an idle connection holds nothing for compressing. To decompress a peer that uses
// context takeover (browsers do), an endpoint keeps the last 2^bits bytes
// of its output, bits being the peer's window (32 KiB unless a smaller one
// was agreed); PeerNoContextTakeover asks the peer not to, and saves them.
// Pooled state is held only while a message is being compressed (about
// 200 KiB of scratch: the block's input, its tokens, hash chains and
// Huffman tables) or decompressed (a flate reader, about 40 KiB), in both
// modes, so its peak follows the number of messages in flight, not of
// connections. A Writer holds its scratch from its first compressed
// bytes until Close, even while the application pauses between Writes. In steady state Write and ReadAppend allocate nothing per
// compressed message, except small tables that compress/flate's decoder
// makes for some blocks of large messages.
//
// Window sizes from 8 to 15 bits (256 bytes to 32 KiB) are negotiated both
// ways (section 7.1.2). WindowBits bounds the window this endpoint
// compresses with, and so what its compressor keeps; PeerWindowBits asks
// the peer for a smaller window, and so bounds what this endpoint keeps to
// decompress. A server honours any window a client asks of it, and says
// which it uses; it answers client_max_window_bits only when the client
// offered it. A client always offers client_max_window_bits, and honours
// any value the server answers. A window the response does not state is
// 15 bits. An endpoint never keeps less than 512 bytes to decompress:
// zlib-based peers compress with 9 bits when 8 was agreed.
//
// The read limit applies to the decompressed size: a message that
// inflates past it fails with 1009 as soon as its output does, having
// produced no more than the limit (Reader holds a buffer's worth at a
// time; ReadAppend grows its slice, up to the limit), so a small message
// that inflates to gigabytes (a decompression bomb) costs no more than the
// limit. The compressed bytes on the wire count against the limit too.
// Data that does not decompress fails the connection with 1007, as does
// invalid UTF-8 in a decompressed text message, detected as the
// decompressor gives out its output (at the end of each deflate block or
// every 32 KiB). A message left unread is still decompressed, and so
// checked, when the next one is read: with context takeover the next may
// refer to it.
//
// A read interrupted by its context in the middle of a compressed message
// loses the decompressor's state: without context takeover the next
// message reads as usual; with it, the next compressed message fails the
// connection with 1011.
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
//   - A write interrupted by its context before any byte of the frame went
//     out (a context already done, or a deadline that passes while the
//     socket is full) returns the context's error and changes nothing.
//   - A write that fails otherwise, or is interrupted midway, closes the
//     connection (the peer sees 1006): part of a frame may have gone out,
//     and nothing valid can follow it. So does the write timeout, which
//     means a peer that does not read.
//   - Without a write timeout or a context deadline, a data write to a peer
//     that does not read blocks until it reads or the connection closes,
//     and pongs wait behind it. A close frame (Close, the answer to the
//     peer's close, a failure) waits at most the close timeout, after which
//     the connection is closed and the blocked write fails.
//
// A context with neither deadline nor cancellation, like
// context.Background, costs nothing. Write, ReadAppend with a reused buffer,
// Reader and Writer then allocate nothing per message; Read returns each
// message in a new slice, which is its one allocation.
//
// # Memory
//
// On Unix, a connection over a plain socket (not TLS, not built with the
// purego tag) holds no read buffer while it waits for the network: its
// 4 KiB buffer goes back to a pool whenever it is empty and the socket has
// nothing to read. Elsewhere it keeps its read buffer. Write buffers are
// pooled everywhere. What an idle
// connection costs is the goroutine waiting in Read, its Conn and the
// socket. A handler may return from net/http after Upgrade and serve the
// connection from a goroutine of its own: net/http then frees what it held
// for the request. Its reads then need a context not derived from
// r.Context(), which ends when the handler returns.
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
