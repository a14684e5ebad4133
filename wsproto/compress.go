package wsproto

import (
	"compress/flate"
	"fmt"
	"strings"
	"sync"
)

// CompressionOptions switches on permessage-deflate (RFC 7692) in
// UpgradeOptions and DialOptions; nil leaves it off. The zero value is
// ready to use: both endpoints may keep their context between messages,
// with 32 KiB windows, at the default level and threshold.
//
// What the choices cost per connection, between messages: in each
// direction that uses context takeover, the compressing end keeps its
// window, 2^bits bytes for a window of bits bits, plus a hash table of at
// most 8 KiB (40 KiB in all for the default 32 KiB window), and the
// decompressing end keeps 2^bits bytes of output (never under 512). A
// direction without context takeover costs nothing between messages. See
// "Compression" in the package documentation.
type CompressionOptions struct {
	// Level trades speed for size, numbered as compress/flate numbers
	// its levels: 1 (flate.BestSpeed, fastest) to 9
	// (flate.BestCompression, smallest), -1 (flate.DefaultCompression,
	// which is 6) or -2 (flate.HuffmanOnly, no matches, only Huffman
	// codes). The compressor is wsraise's own, which honours any window
	// size: a higher level follows its hash chains further. 0 picks the
	// default: 2 with context takeover, 1 without, where each message is
	// a stream of its own. On chat messages and JSON documents they
	// compress about as well as compress/flate's levels 2 and 1, in less
	// time (docs/PERFORMANCE.md).
	Level int
	// Threshold is the size, in bytes, under which a message is sent
	// uncompressed. 0 picks DefaultCompressionThreshold; a negative value
	// compresses every message, even an empty one.
	Threshold int
	// NoContextTakeover makes this endpoint compress each message on its
	// own, as a new deflate stream, and say so in the handshake (RFC 7692
	// section 7.1.1): a server answers with server_no_context_takeover, a
	// client offers client_no_context_takeover, so the peer need not keep
	// a window for it either. The compressor's window and table are then
	// borrowed from a pool for one message at a time, like its scratch,
	// and an idle connection holds nothing for compressing. Without it, the default, this endpoint's messages refer
	// to the ones it sent before whenever the peer allows it: short,
	// similar messages such as a chat's compress far better, and the
	// compressor keeps its state for the connection's life once it has
	// sent a compressed message: the window plus a hash table of at most
	// 8 KiB.
	NoContextTakeover bool
	// PeerNoContextTakeover asks the peer to compress each message on its
	// own too: a server answers with client_no_context_takeover, a client
	// offers server_no_context_takeover. It saves the window, 2^bits bytes
	// for the peer's window of bits bits (see PeerWindowBits), that this
	// endpoint would otherwise keep to decompress the peer's messages.
	PeerNoContextTakeover bool
	// WindowBits is the largest LZ77 window this endpoint compresses with,
	// 2^WindowBits bytes, from 8 (256 bytes) to 15 (32 KiB); 0 means 15.
	// A server compresses with the smaller of it and the offer's
	// server_max_window_bits, and answers with server_max_window_bits
	// whenever the offer had it or its window is under 15 bits (RFC 7692
	// section 7.1.2.1). A client always offers client_max_window_bits,
	// with WindowBits as its value when under 15, and compresses with the
	// smaller of it and the value the response gives (section 7.1.2.2).
	// With context takeover the compressor keeps, per connection, its
	// window plus a hash table of at most 8 KiB; a smaller window costs
	// less memory and finds fewer matches.
	WindowBits int
	// PeerWindowBits asks the peer to compress with a window of at most
	// 2^PeerWindowBits bytes, 8 to 15; 0 asks nothing. A client offers it
	// as server_max_window_bits (section 7.1.2.1), under 15 only: 15 is
	// what a server does unasked. A server answers with
	// client_max_window_bits, the smaller of it and the offer's value, but
	// only when the offer has client_max_window_bits: a client that leaves
	// it out may not support it (section 7.1.2.2). Asking nothing, a server
	// still answers with the value a client offered, which binds the
	// client to it. With context takeover this endpoint keeps the last
	// 2^bits bytes the peer sent to decompress its next message, bits
	// being the window the response states (15 when it states none), and
	// never under 9: zlib-based peers compress with 9 bits when 8 was
	// agreed.
	PeerWindowBits int
}

// DefaultCompressionThreshold is the size under which a message is sent
// uncompressed unless CompressionOptions.Threshold says otherwise. A
// message that short has a small frame header. Compressed on its own
// (without context takeover), it saves little or nothing, and may even
// grow: a deflate block carries its own Huffman tables. The CPU time would
// be spent for nothing. With context takeover, short messages that
// resemble earlier ones do shrink, so a connection that sends many of them
// and cares more for bandwidth than CPU may set a lower Threshold.
const DefaultCompressionThreshold = 128

// compressionConfig is what was agreed in the handshake.
type compressionConfig struct {
	params    deflateParams
	extension string // the Sec-WebSocket-Extensions value agreed
	level     int    // 0 for the default
	threshold int
	// ownNoTakeover: this endpoint compresses without context takeover
	// whatever the agreement allows (a server may leave out the
	// client_no_context_takeover a client offered; section 7.1.1.2 then
	// still lets the client reset its context, as any compressor may).
	ownNoTakeover bool
	// ownWindowBits is the largest LZ77 window this endpoint compresses
	// with, peerWindowBits the largest the peer does, as agreed: 8 to 15
	// (sections 7.1.2.1, 7.1.2.2), or 0 for 15.
	ownWindowBits, peerWindowBits int
}

// checkCompressionOptions reports an option that cannot be honoured.
func checkCompressionOptions(o *CompressionOptions) error {
	if o == nil {
		return nil
	}
	if o.Level != 0 && (o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression) {
		return fmt.Errorf("websocket: compression level %d is not from %d to %d", o.Level, flate.HuffmanOnly, flate.BestCompression)
	}
	// RFC 7692 sections 7.1.2.1, 7.1.2.2: a window size is 8 to 15 bits.
	for _, w := range []struct {
		name string
		bits int
	}{{"WindowBits", o.WindowBits}, {"PeerWindowBits", o.PeerWindowBits}} {
		if w.bits != 0 && (w.bits < 8 || w.bits > 15) {
			return fmt.Errorf("websocket: compression %s %d is not 0 or from 8 to 15", w.name, w.bits)
		}
	}
	return nil
}

// negotiateServer answers, as a server with options o, the client's
// Sec-WebSocket-Extensions header lines. It returns nil when compression
// is off or no offer can be honoured; the connection then goes on without
// it (RFC 7692 section 5.1). A malformed header line is declined alone:
// the other lines may still hold an offer to accept.
func negotiateServer(lines []string, o *CompressionOptions) *compressionConfig {
	if o == nil || len(lines) == 0 {
		return nil
	}
	var offers []extensionOffer
	for _, line := range lines {
		if parsed, err := parseExtensions([]string{line}); err == nil {
			offers = append(offers, parsed...)
		}
	}
	want := deflateParams{serverNoContextTakeover: o.NoContextTakeover, clientNoContextTakeover: o.PeerNoContextTakeover,
		serverMaxWindowBits: o.WindowBits, clientMaxWindowBits: o.PeerWindowBits}
	params, response, ok := acceptDeflateWith(offers, want)
	if !ok {
		return nil
	}
	return &compressionConfig{params: params, extension: response, level: o.Level, threshold: o.Threshold,
		ownWindowBits: bitsOr15(params.serverMaxWindowBits), peerWindowBits: bitsOr15(params.clientMaxWindowBits)}
}

// clientOffer returns the parameters a client with options o offers. Its
// window goes in client_max_window_bits only when under 15 bits: a bare
// one says the same, and is what browsers send (RFC 7692 section 7.1.2.2).
func clientOffer(o *CompressionOptions) deflateParams {
	p := deflateParams{clientNoContextTakeover: o.NoContextTakeover, serverNoContextTakeover: o.PeerNoContextTakeover}
	// 15 asks for nothing a server does not do anyway; offering it would
	// make the handshake fail against a server that leaves it out.
	if o.PeerWindowBits < 15 {
		p.serverMaxWindowBits = o.PeerWindowBits
	}
	if o.WindowBits < 15 {
		p.clientMaxWindowBits = o.WindowBits
	}
	return p
}

// negotiateClient checks, as a client that offered with options o (nil:
// nothing offered), the server's Sec-WebSocket-Extensions header lines.
func negotiateClient(lines []string, o *CompressionOptions) (*compressionConfig, error) {
	if len(lines) == 0 {
		return nil, nil // the server declined, or nothing was offered
	}
	// RFC 6455 section 4.1, item 5: no extension that was not offered.
	if o == nil {
		return nil, fmt.Errorf("websocket: server chose extension %q, which was not offered", strings.Join(lines, ", "))
	}
	value := strings.Join(lines, ", ")
	params, err := checkDeflateResponse(value, clientOffer(o))
	if err != nil {
		return nil, fmt.Errorf("websocket: server's Sec-WebSocket-Extensions %q: %w", value, err)
	}
	return &compressionConfig{params: params, extension: deflateResponse(params), level: o.Level, threshold: o.Threshold, ownNoTakeover: o.NoContextTakeover,
		ownWindowBits: min(bitsOr15(o.WindowBits), bitsOr15(params.clientMaxWindowBits)), peerWindowBits: bitsOr15(params.serverMaxWindowBits)}, nil
}

// setupCompression gives c its deflater and inflater for the agreement cc.
// RFC 7692 section 7.1.1: server_no_context_takeover binds the server's
// compressor and so the client's decompressor; client_no_context_takeover
// the reverse. Section 7.1.2 likewise for the window sizes, which cc holds
// already sorted into this endpoint's own and its peer's.
func (c *Conn) setupCompression(cc *compressionConfig) {
	ownNo, peerNo := cc.params.serverNoContextTakeover, cc.params.clientNoContextTakeover
	if !c.server {
		ownNo, peerNo = peerNo, ownNo
	}
	ownNo = ownNo || cc.ownNoTakeover
	ownBits, peerBits := bitsOr15(cc.ownWindowBits), bitsOr15(cc.peerWindowBits)
	d, err := newDeflater(cc.level, ownNo, ownBits)
	if err != nil {
		// Unreachable: Upgrade and Dial check the level before the
		// handshake. Were it not, the default level is a defined answer.
		d, _ = newDeflater(0, ownNo, ownBits)
	}
	c.deflate = d
	c.inflate = newInflater(peerNo, peerBits)
	c.extensions = cc.extension
	// Section 6: the extension gives RSV1 its meaning, "Per-Message
	// Compressed".
	c.allowedRSV = rsv1
	switch {
	case cc.threshold == 0:
		c.threshold = DefaultCompressionThreshold
	case cc.threshold < 0:
		c.threshold = 0
	default:
		c.threshold = cc.threshold
	}
}

// Compressed reports whether permessage-deflate was agreed in the
// handshake. Messages may then arrive compressed or not, and are sent
// compressed from the threshold up.
func (c *Conn) Compressed() bool { return c.deflate != nil }

// Extensions returns the Sec-WebSocket-Extensions value agreed in the
// handshake, such as "permessage-deflate; server_no_context_takeover", or
// "" if none was. A client writes the parameters of the server's answer in
// its own fixed order.
func (c *Conn) Extensions() string { return c.extensions }

// compressBuffers hold Write's compressed messages while they go out.
var compressBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledCompressBuffer: a larger buffer is left to the garbage
// collector rather than kept in the pool.
const maxPooledCompressBuffer = 1 << 20
