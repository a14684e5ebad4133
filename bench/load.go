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

func dialLoad(addr, lib string) (*clientConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cc := &clientConn{c: c, br: bufio.NewReaderSize(c, 64<<10), raw: isRaw(lib), rawMsg: lib == "raw-msg"}
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

// roundTrip sends payload and reads the echo into buf.
func (cc *clientConn) roundTrip(frame, payload, buf []byte, n uint32) ([]byte, error) {
	if cc.rawMsg {
		frame = binary.BigEndian.AppendUint32(frame[:0], uint32(len(payload)))
		frame = append(frame, payload...)
		if _, err := cc.c.Write(frame); err != nil {
			return nil, err
		}
		var h [4]byte
		if _, err := io.ReadFull(cc.br, h[:]); err != nil {
			return nil, err
		}
		buf = slices.Grow(buf[:0], int(binary.BigEndian.Uint32(h[:])))[:binary.BigEndian.Uint32(h[:])]
		_, err := io.ReadFull(cc.br, buf)
		return buf, err
	}
	if cc.raw {
		if _, err := cc.c.Write(payload); err != nil {
			return nil, err
		}
		buf = buf[:len(payload)]
		_, err := io.ReadFull(cc.br, buf)
		return buf, err
	}
	// A masked binary frame; the key changes every message.
	frame = frame[:0]
	frame = append(frame, 0x82)
	switch l := len(payload); {
	case l < 126:
		frame = append(frame, 0x80|byte(l))
	case l <= 0xffff:
		frame = append(frame, 0x80|126, byte(l>>8), byte(l))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(l))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], n*2654435761+1)
	frame = append(frame, key[:]...)
	start := len(frame)
	frame = append(frame, payload...)
	mask(frame[start:], key)
	if _, err := cc.c.Write(frame); err != nil {
		return nil, err
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

// runLoad runs conns closed loops of size-byte messages for d.
func runLoad(lib, addr string, size, conns int, d time.Duration) loadResult {
	res := loadResult{Lib: lib, Size: size, Conns: conns}
	ccs := make([]*clientConn, conns)
	for i := range ccs {
		cc, err := dialLoad(addr, lib)
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
			frame := make([]byte, 0, size+14)
			buf := make([]byte, 0, size)
			lat := make([]time.Duration, 0, 1024)
			var n uint32
			mismatches, errs := 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				t0 := time.Now()
				got, err := cc.roundTrip(frame, payload, buf, n)
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
				payload[int(n)%size] ^= 0x5a // vary the content
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
