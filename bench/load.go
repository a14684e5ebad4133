package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gobwas/ws"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The load client is shared by every library, so ratios compare servers
// only. It speaks WebSocket itself, simply: each connection is a closed
// loop of "send one masked binary message of size bytes, read the echo,
// compare it".

type loadResult struct {
	Lib        string  `json:"lib"`
	Client     string  `json:"client"` // how the client read the echoes (see readBufferSize)
	Size       int     `json:"size"`
	Conns      int     `json:"conns"`
	RoundTrips int     `json:"round_trips"`
	Seconds    float64 `json:"seconds"`
	RTPS       float64 `json:"rtps"`
	MBPS       float64 `json:"mbps"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Mismatches int     `json:"mismatches"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	// ServerCPU is the CPU time, in seconds, the server process used
	// during the run (user and system, from /proc; 0 where there is none).
	ServerCPU float64 `json:"server_cpu_s,omitempty"`
	// RoundRTPS holds each round's round trips per second, in the order
	// the rounds ran (set when rounds are combined).
	RoundRTPS []float64 `json:"round_rtps,omitempty"`
	// RoundCPUus holds each round's server CPU time per round trip, in
	// µs, in the order the rounds ran (set when rounds are combined and
	// every round has one).
	RoundCPUus []float64 `json:"round_cpu_us,omitempty"`
}

// loadReadBuffer is the load client's read buffer. It is small so that a
// large echo is read straight into the caller's slice (bufio.Reader does
// that for reads at least its size) instead of being copied out of the
// buffer: with 100 connections the client, not the server, is the busy
// side, and the copy was 15% of its time at 64 KiB.
const loadReadBuffer = 4 << 10

// The load client reads echoes in one of two ways, which -client names,
// so that a report can show that no figure depends on one reading pattern.
const (
	// clientDirect, the default, reads through a loadReadBuffer, so that
	// large echoes go straight into place.
	clientDirect = "direct"
	// clientBufio64 reads through a 64 KiB bufio.Reader, as most clients
	// do, so that echoes that fit in it are copied out of its buffer.
	clientBufio64 = "bufio64"
)

// readBufferSize is the size of the bufio.Reader the load client named
// client reads echoes through.
func readBufferSize(client string) (int, error) {
	switch client {
	case clientDirect:
		return loadReadBuffer, nil
	case clientBufio64:
		return 64 << 10, nil
	}
	return 0, fmt.Errorf("unknown load client %q (%s or %s)", client, clientDirect, clientBufio64)
}

// clientConn is one load connection.
type clientConn struct {
	c   net.Conn
	br  *bufio.Reader
	raw bool // raw TCP: no WebSocket
	// rawMsg: raw TCP with a 4-byte length before each message, for the
	// store-and-forward echo.
	rawMsg bool
}

// dialLoad connects to lib's echo at addr, reading through a bufio.Reader
// of readBuf bytes.
func dialLoad(addr, lib string, readBuf int) (*clientConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cc := &clientConn{c: c, br: bufio.NewReaderSize(c, readBuf), raw: isRaw(lib), rawMsg: lib == "raw-msg"}
	if cc.raw {
		return cc, nil
	}
	var key [16]byte
	rand.Read(key[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nOrigin: http://" + addr + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(cc.br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return cc, nil
}

// outgoing is what one load connection sends: the message (payload) and
// the bytes that carry it (frame), kept ready between round trips so that
// the client does not copy the message each time. With 100 connections
// the client, not the server, is the busy side, and the copy was 12% of
// its time at 64 KiB.
type outgoing struct {
	payload []byte
	frame   []byte // as sent: a header, then the payload (masked for WebSocket)
	start   int    // where the payload begins in frame
	masked  bool   // a WebSocket frame, masked with key
	key     [4]byte
}

func newOutgoing(cc *clientConn, payload []byte) *outgoing {
	o := &outgoing{payload: payload}
	switch {
	case cc.raw && !cc.rawMsg:
		o.frame = payload
		return o
	case cc.rawMsg:
		o.frame = binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	default: // a masked binary frame: FIN, opcode 2, then the length in 7, 16 or 64 bits (RFC 6455 section 5.2)
		o.frame = []byte{0x82}
		switch l := len(payload); {
		case l < 126:
			o.frame = append(o.frame, 0x80|byte(l))
		case l <= 0xffff:
			o.frame = append(o.frame, 0x80|126, byte(l>>8), byte(l))
		default:
			o.frame = append(o.frame, 0x80|127)
			o.frame = binary.BigEndian.AppendUint64(o.frame, uint64(l))
		}
		o.frame = append(o.frame, 0, 0, 0, 0) // the key: zero, so masking changes nothing yet
		o.masked = true
	}
	o.start = len(o.frame)
	o.frame = append(o.frame, payload...)
	return o
}

// vary changes byte i of the message, so that no two messages in a row are
// alike, and gives a WebSocket frame the mask key key.
func (o *outgoing) vary(i int, key [4]byte) {
	o.payload[i] ^= 0x5a
	if o.start == 0 {
		return // raw TCP sends the payload itself
	}
	o.frame[o.start+i] ^= 0x5a // masking is a XOR: the change shows through it
	if o.masked {
		// Re-key in place: XOR with old^new turns the old masking into the new.
		var d [4]byte
		for j := range d {
			d[j] = o.key[j] ^ key[j]
		}
		mask(o.frame[o.start:], d)
		o.key = key
		copy(o.frame[o.start-4:o.start], key[:])
	}
}

// roundTrip sends o's frame and reads the echo into buf.
func (cc *clientConn) roundTrip(o *outgoing, buf []byte) ([]byte, error) {
	if _, err := cc.c.Write(o.frame); err != nil {
		return nil, err
	}
	if cc.rawMsg {
		var h [4]byte
		if _, err := io.ReadFull(cc.br, h[:]); err != nil {
			return nil, err
		}
		buf = slices.Grow(buf[:0], int(binary.BigEndian.Uint32(h[:])))[:binary.BigEndian.Uint32(h[:])]
		_, err := io.ReadFull(cc.br, buf)
		return buf, err
	}
	if cc.raw {
		buf = buf[:len(o.payload)]
		_, err := io.ReadFull(cc.br, buf)
		return buf, err
	}
	// Read the echo, which a server may fragment.
	buf = buf[:0]
	for {
		var h [10]byte
		if _, err := io.ReadFull(cc.br, h[:2]); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("server frame is masked")
		}
		op := h[0] & 0x0f
		length := int(h[1] & 0x7f)
		switch length {
		case 126:
			if _, err := io.ReadFull(cc.br, h[2:4]); err != nil {
				return nil, err
			}
			length = int(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			if _, err := io.ReadFull(cc.br, h[2:10]); err != nil {
				return nil, err
			}
			length = int(binary.BigEndian.Uint64(h[2:10]))
		}
		if op >= 8 { // control frame (a ping, say): skip it
			if _, err := cc.br.Discard(length); err != nil {
				return nil, err
			}
			if op == 8 {
				return nil, errors.New("server closed the connection")
			}
			continue
		}
		buf = slices.Grow(buf, length)
		if _, err := io.ReadFull(cc.br, buf[len(buf):len(buf)+length]); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+length]
		if h[0]&0x80 != 0 {
			return buf, nil
		}
	}
}

// runLoad runs conns closed loops of size-byte messages for d, reading
// the echoes as the load client named client does.
func runLoad(lib, addr, client string, size, conns int, d time.Duration) loadResult {
	res := loadResult{Lib: lib, Client: client, Size: size, Conns: conns}
	readBuf, err := readBufferSize(client)
	if err != nil {
		res.Errors++
		res.FirstError = err.Error()
		return res
	}
	ccs := make([]*clientConn, conns)
	for i := range ccs {
		cc, err := dialLoad(addr, lib, readBuf)
		if err != nil {
			res.Errors++
			res.FirstError = err.Error()
			return res
		}
		ccs[i] = cc
	}
	defer func() {
		for _, cc := range ccs {
			cc.c.Close()
		}
	}()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i, cc := range ccs {
		wg.Go(func() {
			payload := make([]byte, size)
			for j := range payload {
				payload[j] = byte(j*7 + i)
			}
			out := newOutgoing(cc, payload)
			buf := make([]byte, 0, size)
			lat := make([]time.Duration, 0, 1024)
			var n uint32
			mismatches, errs := 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				// The key changes every message, as section 5.3 of RFC 6455 asks.
				var key [4]byte
				binary.LittleEndian.PutUint32(key[:], n*2654435761+1)
				out.vary(int(n)%size, key)
				got, err := cc.roundTrip(out, buf)
				if err != nil {
					errs++
					firstErr = err
					break
				}
				lat = append(lat, time.Since(t0))
				if !bytes.Equal(got, payload) {
					mismatches++
				}
				buf = got[:0]
				n++
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			res.Mismatches += mismatches
			res.Errors += errs
			if firstErr != nil && res.FirstError == "" {
				res.FirstError = firstErr.Error()
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	res.RoundTrips = len(latencies)
	res.Seconds = elapsed
	res.RTPS = float64(res.RoundTrips) / elapsed
	res.MBPS = res.RTPS * float64(size) * 2 / 1e6
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50us = float64(latencies[len(latencies)/2].Nanoseconds()) / 1e3
		res.P99us = float64(latencies[len(latencies)*99/100].Nanoseconds()) / 1e3
	}
	return res
}

// mask masks b with key. It is gobwas's ws.Cipher (vector assembly on
// amd64 and arm64), the fastest masking among the peers, so that the
// client's own masking weighs as little as it can in the round trip (the
// raw TCP echoes have none) and weighs the same for every library.
func mask(b []byte, key [4]byte) { ws.Cipher(b, key, 0) }
