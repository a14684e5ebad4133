package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"wsraise/internal/rawpeer"
)

// Window sizes (RFC 7692 section 7.1.2) with peers we did not write. An
// endpoint that agreed to a window of bits bits must never refer further
// back than 2^bits bytes, in a message or into the ones before it. An
// inflater need not notice a sender that breaks this (wsraise's keeps only
// the window agreed between messages, but reads a message's own bytes
// from up to 32 KiB back), so these tests decode the frames each side
// wrote with rawpeer's Inflater, which reports how far back every message
// reached.

// windowUse is what one direction's compressed messages show of the
// window their sender used.
type windowUse struct {
	compressed int    // messages sent with RSV1
	maxDist    int    // the furthest back any reference reached, in bytes
	where      string // the message that reached it
	sizes      []int  // the payload of each message, in bytes, as sent
}

// windowUsed decodes the data messages of one direction of a connection.
// stream is every byte one endpoint read, or wrote, from the HTTP head of
// the handshake on; want is the messages that went that way, in order,
// and each must decode to its own. takeover says whether the sender kept
// its context between messages. It stops at a close frame.
func windowUsed(stream []byte, want []echoMsg, takeover bool) (windowUse, error) {
	var u windowUse
	head := bytes.Index(stream, []byte("\r\n\r\n"))
	if head < 0 {
		return u, errors.New("no end to the handshake's HTTP head")
	}
	r := bytes.NewReader(stream[head+4:])
	inf := rawpeer.NewInflater(15, 64<<20) // its window is not used
	var (
		msg        []byte
		compressed bool
		n          int // data messages read
	)
	// Each frame takes at least 2 bytes: the loop ends.
	for r.Len() > 0 {
		f, err := rawpeer.ReadFrame(r)
		if err != nil {
			return u, fmt.Errorf("a frame after %d messages: %v", n, err)
		}
		switch f.Op {
		case rawpeer.OpClose:
			r.Reset(nil)
			continue
		case rawpeer.OpPing, rawpeer.OpPong:
			continue
		case rawpeer.OpText, rawpeer.OpBinary:
			msg, compressed = f.Payload, f.RSV&rawpeer.RSV1 != 0
		case rawpeer.OpCont:
			msg = append(msg, f.Payload...)
		default:
			return u, fmt.Errorf("a frame with opcode %#x after %d messages", f.Op, n)
		}
		if !f.Fin {
			continue
		}
		if n >= len(want) {
			return u, fmt.Errorf("more than the %d messages sent", len(want))
		}
		m := want[n]
		n++
		u.sizes = append(u.sizes, len(msg))
		if !compressed {
			// RFC 7692 section 6: a message without RSV1 is not part of
			// the compressed stream.
			if !bytes.Equal(msg, m.data) {
				return u, fmt.Errorf("%s, uncompressed, is %d bytes that differ from the %d sent", m.name, len(msg), len(m.data))
			}
			continue
		}
		u.compressed++
		if !takeover {
			inf.Reset()
		}
		out, dist, err := inf.Message(msg)
		if err != nil {
			return u, fmt.Errorf("%s: %v", m.name, err)
		}
		if !bytes.Equal(out, m.data) {
			return u, fmt.Errorf("%s decodes to %d bytes that differ from the %d sent", m.name, len(out), len(m.data))
		}
		if dist > u.maxDist {
			u.maxDist, u.where = dist, m.name
		}
	}
	if n != len(want) {
		return u, fmt.Errorf("%d messages of the %d sent", n, len(want))
	}
	return u, nil
}

// checkWindow checks what one side sent, stream as windowUsed takes it:
// every message arrived, some compressed, none referring further back
// than a window of bits bits. It returns what windowUsed found.
func checkWindow(t *testing.T, what string, stream []byte, want []echoMsg, bits int, takeover bool) windowUse {
	t.Helper()
	u, err := windowUsed(stream, want, takeover)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return u
	}
	if u.compressed == 0 {
		t.Errorf("%s: none of the %d messages was compressed", what, len(want))
	}
	if u.maxDist > 1<<bits {
		t.Errorf("%s: %s refers back %d bytes, past the window of %d bits (%d bytes) agreed (RFC 7692 section 7.1.2)",
			what, u.where, u.maxDist, bits, 1<<bits)
	}
	t.Logf("%s: %d of %d messages compressed, the furthest reference %d bytes back (in %s), window %d",
		what, u.compressed, len(want), u.maxDist, u.where, 1<<bits)
	return u
}

// TestWindowUsedMeasuresReferences: the measure the window tests rely on
// reports exactly how far back a message refers, across messages with
// context takeover, and refuses a stream that does not hold the messages
// sent.
func TestWindowUsedMeasuresReferences(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	first := make([]byte, 1000)
	for i := range first {
		first[i] = byte(r.IntN(256))
	}
	msgs := []echoMsg{{"first", true, first}, {"again", true, first}}
	// stream frames the messages as a server would send them, each
	// compressed with at most a window of bits bits, and returns the
	// sizes of their payloads.
	stream := func(bits int) ([]byte, []int) {
		s := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
		var history []byte
		var sizes []int
		for _, m := range msgs {
			p := rawpeer.NaiveDeflate(history, m.data, bits)
			history = append(history, m.data...)
			sizes = append(sizes, len(p))
			s = append(s, rawpeer.Frame{Fin: true, RSV: rawpeer.RSV1, Op: rawpeer.OpBinary, Payload: p}.Encode()...)
		}
		return append(s, rawpeer.Close(1000, "").Encode()...), sizes
	}
	// The second message, with a 15-bit window, repeats the first from
	// 1000 bytes back; with 9 bits it can reach no further than 512, and
	// the random bytes hold no repeat that near.
	for _, c := range []struct {
		bits, want int
	}{{15, 1000}, {9, 0}} {
		s, sizes := stream(c.bits)
		u, err := windowUsed(s, msgs, true)
		if err != nil {
			t.Fatalf("%d bits: %v", c.bits, err)
		}
		if u.compressed != 2 || u.maxDist != c.want || !slices.Equal(u.sizes, sizes) {
			t.Errorf("%d bits: %d messages compressed, of %v bytes, the furthest reference %d bytes back; want 2, %v and %d",
				c.bits, u.compressed, u.sizes, u.maxDist, sizes, c.want)
		}
	}
	far, _ := stream(15)
	// Without context takeover the second message refers to nothing.
	if _, err := windowUsed(far, msgs, false); err == nil || !strings.Contains(err.Error(), "before the start") {
		t.Errorf("a reference into the message before, without context takeover: error %v, want one about the start of the stream", err)
	}
	other := []echoMsg{msgs[0], {"other", true, first[:999]}}
	if _, err := windowUsed(far, other, true); err == nil {
		t.Errorf("a message that differs from the one sent: no error")
	}
	if _, err := windowUsed(far, msgs[:1], true); err == nil {
		t.Errorf("more messages than were sent: no error")
	}
}
