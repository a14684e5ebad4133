package wsproto

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	p := func(name string) extensionParam { return extensionParam{name: name} }
	pv := func(name, value string) extensionParam {
		return extensionParam{name: name, value: value, hasValue: true}
	}
	tests := []struct {
		name    string
		headers []string
		want    []extensionOffer
		wantErr bool
	}{
		{name: "none", headers: nil, want: nil},
		{name: "empty line", headers: []string{""}, want: nil},
		{name: "blank line", headers: []string{" \t "}, want: nil},
		{name: "bare", headers: []string{"permessage-deflate"}, want: []extensionOffer{{name: "permessage-deflate"}}},
		{name: "flag", headers: []string{"permessage-deflate; client_max_window_bits"},
			want: []extensionOffer{{name: "permessage-deflate", params: []extensionParam{p("client_max_window_bits")}}}},
		{name: "value", headers: []string{"permessage-deflate;server_max_window_bits=10"},
			want: []extensionOffer{{name: "permessage-deflate", params: []extensionParam{pv("server_max_window_bits", "10")}}}},
		{name: "quoted value", headers: []string{`permessage-deflate; server_max_window_bits="10"`},
			want: []extensionOffer{{name: "permessage-deflate", params: []extensionParam{pv("server_max_window_bits", "10")}}}},
		{name: "quoted pair", headers: []string{`x; a="\1\0"`},
			want: []extensionOffer{{name: "x", params: []extensionParam{pv("a", "10")}}}},
		{name: "whitespace everywhere", headers: []string{" \tpermessage-deflate \t; \tserver_max_window_bits \t= \t10 \t;client_no_context_takeover\t, x "},
			want: []extensionOffer{
				{name: "permessage-deflate", params: []extensionParam{pv("server_max_window_bits", "10"), p("client_no_context_takeover")}},
				{name: "x"},
			}},
		// RFC 7692 section 5.2's example: two offers, the second a fallback.
		{name: "two offers in one line", headers: []string{"permessage-deflate; client_max_window_bits=10, permessage-deflate"},
			want: []extensionOffer{
				{name: "permessage-deflate", params: []extensionParam{pv("client_max_window_bits", "10")}},
				{name: "permessage-deflate"},
			}},
		{name: "offers over several lines", headers: []string{"foo; bar", "permessage-deflate; server_no_context_takeover", "baz"},
			want: []extensionOffer{
				{name: "foo", params: []extensionParam{p("bar")}},
				{name: "permessage-deflate", params: []extensionParam{p("server_no_context_takeover")}},
				{name: "baz"},
			}},
		{name: "empty list elements", headers: []string{",, a ,, b,"}, want: []extensionOffer{{name: "a"}, {name: "b"}}},
		{name: "names kept as sent", headers: []string{"Permessage-Deflate; Server_No_Context_Takeover"},
			want: []extensionOffer{{name: "Permessage-Deflate", params: []extensionParam{p("Server_No_Context_Takeover")}}}},

		{name: "starts with ;", headers: []string{"; a"}, wantErr: true},
		{name: "empty param", headers: []string{"a;"}, wantErr: true},
		{name: "empty param between", headers: []string{"a;;b"}, wantErr: true},
		{name: "empty value", headers: []string{"a; b="}, wantErr: true},
		{name: "empty value before comma", headers: []string{"a; b=, c"}, wantErr: true},
		{name: "empty quoted", headers: []string{`a; b=""`}, wantErr: true},
		{name: "quoted non-token", headers: []string{`a; b="1 0"`}, wantErr: true},
		{name: "unterminated quote", headers: []string{`a; b="10`}, wantErr: true},
		{name: "unterminated quoted pair", headers: []string{`a; b="10\`}, wantErr: true},
		{name: "space inside name", headers: []string{"perm deflate"}, wantErr: true},
		{name: "two values", headers: []string{"a; b=1=2"}, wantErr: true},
		{name: "junk after quoted", headers: []string{`a; b="1"2`}, wantErr: true},
		{name: "separator as name", headers: []string{"a, =b"}, wantErr: true},
		{name: "non-ASCII", headers: []string{"permessage-d\u00e9flate"}, wantErr: true},
		{name: "control byte", headers: []string{"a;\x00b"}, wantErr: true},
		{name: "bad second line", headers: []string{"a", "b;"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExtensions(tt.headers)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				if !strings.Contains(err.Error(), "Sec-WebSocket-Extensions") {
					t.Errorf("error %q does not name the header", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestAcceptDeflate(t *testing.T) {
	tests := []struct {
		name     string
		headers  []string
		want     deflateParams
		response string
		declined bool
	}{
		{name: "no header", declined: true},
		{name: "other extension only", headers: []string{"x-webkit-deflate-frame"}, declined: true},
		{name: "name is case-sensitive", headers: []string{"Permessage-Deflate"}, declined: true},
		{name: "bare", headers: []string{"permessage-deflate"}, response: "permessage-deflate"},
		{name: "server_no_context_takeover", headers: []string{"permessage-deflate; server_no_context_takeover"},
			want: deflateParams{serverNoContextTakeover: true}, response: "permessage-deflate; server_no_context_takeover"},
		{name: "client_no_context_takeover", headers: []string{"permessage-deflate; client_no_context_takeover"},
			want: deflateParams{clientNoContextTakeover: true}, response: "permessage-deflate; client_no_context_takeover"},
		{name: "both no_context_takeover", headers: []string{"permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
			want:     deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		// What browsers send: a bare client_max_window_bits needs no answer.
		{name: "bare client_max_window_bits", headers: []string{"permessage-deflate; client_max_window_bits"}, response: "permessage-deflate"},
		// Section 7.1.2.2: a valued one is answered with its value, which
		// is all the server's inflater then keeps.
		{name: "client_max_window_bits=8", headers: []string{"permessage-deflate; client_max_window_bits=8"},
			want: deflateParams{clientMaxWindowBits: 8}, response: "permessage-deflate; client_max_window_bits=8"},
		{name: "client_max_window_bits=15", headers: []string{"permessage-deflate; client_max_window_bits=15"},
			want: deflateParams{clientMaxWindowBits: 15}, response: "permessage-deflate; client_max_window_bits=15"},
		{name: "client_max_window_bits quoted", headers: []string{`permessage-deflate; client_max_window_bits="12"`},
			want: deflateParams{clientMaxWindowBits: 12}, response: "permessage-deflate; client_max_window_bits=12"},
		{name: "server_max_window_bits=15", headers: []string{"permessage-deflate; server_max_window_bits=15"},
			want: deflateParams{serverMaxWindowBits: 15}, response: "permessage-deflate; server_max_window_bits=15"},
		{name: "everything", headers: []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=9"},
			want:     deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 9},
			response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=9"},

		// Section 7.1.2.1: any server window is honoured, and answered.
		{name: "server_max_window_bits=8", headers: []string{"permessage-deflate; server_max_window_bits=8"},
			want: deflateParams{serverMaxWindowBits: 8}, response: "permessage-deflate; server_max_window_bits=8"},
		{name: "server_max_window_bits=14", headers: []string{"permessage-deflate; server_max_window_bits=14"},
			want: deflateParams{serverMaxWindowBits: 14}, response: "permessage-deflate; server_max_window_bits=14"},
		{name: "narrow window taken before fallback", headers: []string{"permessage-deflate; server_max_window_bits=10; client_no_context_takeover, permessage-deflate; server_no_context_takeover"},
			want: deflateParams{clientNoContextTakeover: true, serverMaxWindowBits: 10}, response: "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"},
		{name: "malformed window, fallback on another line", headers: []string{"permessage-deflate; server_max_window_bits=7", "permessage-deflate"}, response: "permessage-deflate"},
		{name: "first acceptable wins", headers: []string{"x-foo, permessage-deflate; client_no_context_takeover, permessage-deflate; server_no_context_takeover"},
			want: deflateParams{clientNoContextTakeover: true}, response: "permessage-deflate; client_no_context_takeover"},

		// Section 7.1: malformed offers are declined; the next is tried.
		{name: "unknown parameter", headers: []string{"permessage-deflate; foo"}, declined: true},
		{name: "unknown parameter with value", headers: []string{"permessage-deflate; foo=1"}, declined: true},
		{name: "parameter case", headers: []string{"permessage-deflate; Server_No_Context_Takeover"}, declined: true},
		{name: "duplicate flag", headers: []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, declined: true},
		{name: "duplicate client_no_context_takeover", headers: []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, declined: true},
		{name: "duplicate window", headers: []string{"permessage-deflate; server_max_window_bits=15; server_max_window_bits=15"}, declined: true},
		{name: "duplicate client window, bare and valued", headers: []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=10"}, declined: true},
		{name: "flag with value", headers: []string{"permessage-deflate; server_no_context_takeover=1"}, declined: true},
		{name: "client flag with value", headers: []string{"permessage-deflate; client_no_context_takeover=true"}, declined: true},
		{name: "bare server_max_window_bits", headers: []string{"permessage-deflate; server_max_window_bits"}, declined: true},
		{name: "server window 7", headers: []string{"permessage-deflate; server_max_window_bits=7"}, declined: true},
		{name: "server window 16", headers: []string{"permessage-deflate; server_max_window_bits=16"}, declined: true},
		{name: "server window leading zero", headers: []string{"permessage-deflate; server_max_window_bits=015"}, declined: true},
		{name: "server window sign", headers: []string{"permessage-deflate; server_max_window_bits=+15"}, declined: true},
		{name: "client window 7", headers: []string{"permessage-deflate; client_max_window_bits=7"}, declined: true},
		{name: "client window 16", headers: []string{"permessage-deflate; client_max_window_bits=16"}, declined: true},
		{name: "client window 0", headers: []string{"permessage-deflate; client_max_window_bits=0"}, declined: true},
		{name: "client window leading zero", headers: []string{"permessage-deflate; client_max_window_bits=09"}, declined: true},
		{name: "client window not a number", headers: []string{"permessage-deflate; client_max_window_bits=ten"}, declined: true},
		{name: "client window huge", headers: []string{"permessage-deflate; client_max_window_bits=99999999999999999999"}, declined: true},
		{name: "client window sign", headers: []string{"permessage-deflate; client_max_window_bits=+9"}, declined: true},
		{name: "client window quoted leading zero", headers: []string{`permessage-deflate; client_max_window_bits="09"`}, declined: true},
		{name: "server window 0", headers: []string{"permessage-deflate; server_max_window_bits=0"}, declined: true},
		{name: "malformed, then good", headers: []string{"permessage-deflate; foo, permessage-deflate; client_max_window_bits=16, permessage-deflate; client_no_context_takeover"},
			want: deflateParams{clientNoContextTakeover: true}, response: "permessage-deflate; client_no_context_takeover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offers, err := parseExtensions(tt.headers)
			if err != nil {
				t.Fatal(err)
			}
			got, resp, ok := acceptDeflate(offers)
			if tt.declined {
				if ok {
					t.Fatalf("accepted %+v with %q, want declined", got, resp)
				}
				return
			}
			if !ok {
				t.Fatal("declined")
			}
			if got != tt.want || resp != tt.response {
				t.Fatalf("got %+v %q, want %+v %q", got, resp, tt.want, tt.response)
			}
			// The client agrees on the same parameters.
			offered, _, err := readDeflateParams(offersOf(t, offers, got), false)
			if err != nil {
				t.Fatal(err)
			}
			back, err := checkDeflateResponse(resp, offered)
			if err != nil {
				t.Fatalf("the client refuses %q: %v", resp, err)
			}
			if back != got {
				t.Fatalf("client agrees on %+v, server on %+v", back, got)
			}
		})
	}
}

// offersOf returns the params of the offer acceptDeflate chose: the first
// well-formed one.
func offersOf(t *testing.T, offers []extensionOffer, _ deflateParams) []extensionParam {
	t.Helper()
	for _, o := range offers {
		if o.name != deflateName {
			continue
		}
		if _, _, err := readDeflateParams(o.params, false); err == nil {
			return o.params
		}
	}
	t.Fatal("no acceptable offer")
	return nil
}

// What the server demands of its own (want) shapes its response: the
// no_context_takeover flags unasked (sections 7.1.1.1, 7.1.1.2), its own
// window, announced unasked when under 15 bits (section 7.1.2.1), and the
// window it asks of the client, only when the offer named
// client_max_window_bits (section 7.1.2.2).
func TestAcceptDeflateWith(t *testing.T) {
	tests := []struct {
		name     string
		offer    string
		want     deflateParams // the server's demands
		agreed   deflateParams
		response string
	}{
		{name: "both no_context_takeover unasked", offer: "permessage-deflate",
			want:     deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true},
			agreed:   deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{name: "own window under 15 announced unasked", offer: "permessage-deflate",
			want: deflateParams{serverMaxWindowBits: 12}, agreed: deflateParams{serverMaxWindowBits: 12}, response: "permessage-deflate; server_max_window_bits=12"},
		{name: "own window of 15 not announced", offer: "permessage-deflate",
			want: deflateParams{serverMaxWindowBits: 15}, agreed: deflateParams{}, response: "permessage-deflate"},
		{name: "own window under the offer's", offer: "permessage-deflate; server_max_window_bits=14",
			want: deflateParams{serverMaxWindowBits: 12}, agreed: deflateParams{serverMaxWindowBits: 12}, response: "permessage-deflate; server_max_window_bits=12"},
		{name: "offer's window under the own", offer: "permessage-deflate; server_max_window_bits=9",
			want: deflateParams{serverMaxWindowBits: 12}, agreed: deflateParams{serverMaxWindowBits: 9}, response: "permessage-deflate; server_max_window_bits=9"},
		{name: "offered window repeated", offer: "permessage-deflate; server_max_window_bits=15",
			want: deflateParams{}, agreed: deflateParams{serverMaxWindowBits: 15}, response: "permessage-deflate; server_max_window_bits=15"},
		{name: "client window not asked unless offered", offer: "permessage-deflate",
			want: deflateParams{clientMaxWindowBits: 10}, agreed: deflateParams{}, response: "permessage-deflate"},
		{name: "client window asked when offered bare", offer: "permessage-deflate; client_max_window_bits",
			want: deflateParams{clientMaxWindowBits: 10}, agreed: deflateParams{clientMaxWindowBits: 10}, response: "permessage-deflate; client_max_window_bits=10"},
		{name: "client window asked under the offered", offer: "permessage-deflate; client_max_window_bits=12",
			want: deflateParams{clientMaxWindowBits: 9}, agreed: deflateParams{clientMaxWindowBits: 9}, response: "permessage-deflate; client_max_window_bits=9"},
		{name: "client window offered under the asked", offer: "permessage-deflate; client_max_window_bits=9",
			want: deflateParams{clientMaxWindowBits: 12}, agreed: deflateParams{clientMaxWindowBits: 9}, response: "permessage-deflate; client_max_window_bits=9"},
		{name: "client window offered, none asked", offer: "permessage-deflate; client_max_window_bits=11",
			want: deflateParams{}, agreed: deflateParams{clientMaxWindowBits: 11}, response: "permessage-deflate; client_max_window_bits=11"},
		{name: "client window bare, none asked", offer: "permessage-deflate; client_max_window_bits",
			want: deflateParams{}, agreed: deflateParams{}, response: "permessage-deflate"},
		{name: "everything", offer: "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
			want:     deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 8},
			agreed:   deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 8},
			response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offers, err := parseExtensions([]string{tt.offer})
			if err != nil {
				t.Fatal(err)
			}
			got, resp, ok := acceptDeflateWith(offers, tt.want)
			if !ok {
				t.Fatal("declined")
			}
			if got != tt.agreed || resp != tt.response {
				t.Fatalf("got %+v %q, want %+v %q", got, resp, tt.agreed, tt.response)
			}
			// The client agrees on the same parameters.
			offered, _, _ := readDeflateParams(offers[0].params, false)
			if back, err := checkDeflateResponse(resp, offered); err != nil || back != got {
				t.Fatalf("the client sees %q as %+v, %v", resp, back, err)
			}
		})
	}
	if _, _, ok := acceptDeflateWith(nil, deflateParams{serverMaxWindowBits: 10}); ok {
		t.Fatal("accepted no offer at all")
	}
}

// Every window size from 8 to 15 bits is honoured both ways: offered as
// server_max_window_bits or client_max_window_bits, answered with the same
// value, which the client accepts back (sections 7.1.2.1, 7.1.2.2).
func TestAcceptDeflateEveryWindow(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		for _, param := range []string{"server_max_window_bits", "client_max_window_bits"} {
			offer := fmt.Sprintf("%s; %s=%d", deflateName, param, bits)
			offers, err := parseExtensions([]string{offer})
			if err != nil {
				t.Fatal(err)
			}
			got, resp, ok := acceptDeflate(offers)
			if !ok {
				t.Errorf("%q declined", offer)
				continue
			}
			if resp != offer {
				t.Errorf("%q answered with %q", offer, resp)
			}
			want := deflateParams{serverMaxWindowBits: bits}
			if param == "client_max_window_bits" {
				want = deflateParams{clientMaxWindowBits: bits}
			}
			if got != want {
				t.Errorf("%q agreed %+v, want %+v", offer, got, want)
			}
			offered, _, _ := readDeflateParams(offers[0].params, false)
			if back, err := checkDeflateResponse(resp, offered); err != nil || back != got {
				t.Errorf("%q: the client sees %q as %+v, %v", offer, resp, back, err)
			}
		}
	}
}

// A window size that is not 8 to 15 without leading zeroes, or is
// missing, declines the offer and fails the response, for both parameters
// (section 7.1); only an offer may name client_max_window_bits bare.
func TestMalformedWindowSizes(t *testing.T) {
	for _, param := range []string{"server_max_window_bits", "client_max_window_bits"} {
		for _, v := range []string{"=0", "=7", "=16", "=08", "=+9", "=-9", "=9.0", `="08"`, ""} {
			value := deflateName + "; " + param + v
			offers, err := parseExtensions([]string{value})
			if err != nil {
				t.Fatal(err)
			}
			bareOffer := v == "" && param == "client_max_window_bits"
			if _, resp, ok := acceptDeflate(offers); ok != bareOffer {
				t.Errorf("offer %q: accepted %v (%q), want %v", value, ok, resp, bareOffer)
			}
			all := deflateParams{serverMaxWindowBits: 15, clientMaxWindowBits: 15}
			if p, err := checkDeflateResponse(value, all); err == nil {
				t.Errorf("response %q accepted as %+v", value, p)
			}
		}
	}
}

func TestDeflateOffer(t *testing.T) {
	tests := []struct {
		p    deflateParams
		want string
	}{
		// Section 7.1.2.2: client_max_window_bits is always offered, bare
		// unless the client promises a smaller window.
		{deflateParams{}, "permessage-deflate; client_max_window_bits"},
		{deflateParams{serverNoContextTakeover: true}, "permessage-deflate; server_no_context_takeover; client_max_window_bits"},
		{deflateParams{clientNoContextTakeover: true}, "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
		{deflateParams{serverMaxWindowBits: 10}, "permessage-deflate; server_max_window_bits=10; client_max_window_bits"},
		{deflateParams{clientMaxWindowBits: 10}, "permessage-deflate; client_max_window_bits=10"},
		{deflateParams{true, true, 12, 9}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9"},
	}
	for _, tt := range tests {
		got := deflateOffer(tt.p)
		if got != tt.want {
			t.Errorf("deflateOffer(%+v) = %q, want %q", tt.p, got, tt.want)
		}
		// What we offer, our own server parses back as the same offer.
		offers, err := parseExtensions([]string{got})
		if err != nil || len(offers) != 1 {
			t.Fatalf("%q: %v %v", got, offers, err)
		}
		if p, named, err := readDeflateParams(offers[0].params, false); err != nil || !named || p != tt.p {
			t.Errorf("%q: read back as %+v (client_max_window_bits named %v), %v", got, p, named, err)
		}
	}
}

func TestCheckDeflateResponse(t *testing.T) {
	none := deflateParams{}
	w10 := deflateParams{serverMaxWindowBits: 10}
	tests := []struct {
		name    string
		value   string
		offered deflateParams
		want    deflateParams
		wantErr string
	}{
		{name: "bare", value: "permessage-deflate", offered: none},
		{name: "whitespace", value: " permessage-deflate ;server_no_context_takeover ", offered: none, want: deflateParams{serverNoContextTakeover: true}},
		// Sections 7.1.1.1, 7.1.1.2: the server may add either unasked.
		{name: "server_no_context_takeover unasked", value: "permessage-deflate; server_no_context_takeover", offered: none, want: deflateParams{serverNoContextTakeover: true}},
		{name: "client_no_context_takeover unasked", value: "permessage-deflate; client_no_context_takeover", offered: none, want: deflateParams{clientNoContextTakeover: true}},
		{name: "both asked", value: "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
			offered: deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true}, want: deflateParams{serverNoContextTakeover: true, clientNoContextTakeover: true}},
		// Section 7.1.2.1: unasked, any window inflates.
		{name: "server window unasked", value: "permessage-deflate; server_max_window_bits=9", offered: none, want: deflateParams{serverMaxWindowBits: 9}},
		{name: "server window as asked", value: "permessage-deflate; server_max_window_bits=10", offered: w10, want: w10},
		{name: "server window smaller than asked", value: "permessage-deflate; server_max_window_bits=8", offered: w10, want: deflateParams{serverMaxWindowBits: 8}},
		{name: "server window quoted", value: `permessage-deflate; server_max_window_bits="10"`, offered: w10, want: w10},
		// Section 7.1.2.2: client_max_window_bits is always offered, so
		// any valid value is honoured.
		{name: "client window 15", value: "permessage-deflate; client_max_window_bits=15", offered: none, want: deflateParams{clientMaxWindowBits: 15}},
		{name: "client window 14", value: "permessage-deflate; client_max_window_bits=14", offered: none, want: deflateParams{clientMaxWindowBits: 14}},
		{name: "client window 8", value: "permessage-deflate; client_max_window_bits=8", offered: none, want: deflateParams{clientMaxWindowBits: 8}},
		{name: "client window above the offered", value: "permessage-deflate; client_max_window_bits=12", offered: deflateParams{clientMaxWindowBits: 10}, want: deflateParams{clientMaxWindowBits: 12}},
		{name: "both windows", value: "permessage-deflate; server_max_window_bits=8; client_max_window_bits=9", offered: w10, want: deflateParams{serverMaxWindowBits: 8, clientMaxWindowBits: 9}},

		{name: "server window larger than asked", value: "permessage-deflate; server_max_window_bits=11", offered: w10, wantErr: "server_max_window_bits=10"},
		{name: "server window asked, not answered", value: "permessage-deflate", offered: w10, wantErr: "server_max_window_bits=10"},
		{name: "server window 15 when 10 asked", value: "permessage-deflate; server_max_window_bits=15", offered: w10, wantErr: "server_max_window_bits=10"},
		{name: "client window 16", value: "permessage-deflate; client_max_window_bits=16", offered: none, wantErr: "8 to 15"},
		{name: "client window 0", value: "permessage-deflate; client_max_window_bits=0", offered: none, wantErr: "8 to 15"},
		{name: "client window +9", value: "permessage-deflate; client_max_window_bits=+9", offered: none, wantErr: "8 to 15"},
		{name: "bare client window", value: "permessage-deflate; client_max_window_bits", offered: none, wantErr: "no value"},
		{name: "bare server window", value: "permessage-deflate; server_max_window_bits", offered: none, wantErr: "no value"},
		{name: "server window 16", value: "permessage-deflate; server_max_window_bits=16", offered: none, wantErr: "8 to 15"},
		{name: "server window 7", value: "permessage-deflate; server_max_window_bits=7", offered: none, wantErr: "8 to 15"},
		{name: "server window 08", value: "permessage-deflate; server_max_window_bits=08", offered: none, wantErr: "8 to 15"},
		{name: "unknown parameter", value: "permessage-deflate; foo", offered: none, wantErr: "unknown parameter foo"},
		{name: "duplicate", value: "permessage-deflate; server_no_context_takeover; server_no_context_takeover", offered: none, wantErr: "duplicate"},
		{name: "flag with value", value: "permessage-deflate; client_no_context_takeover=1", offered: none, wantErr: "has a value"},
		{name: "other extension", value: "x-webkit-deflate-frame", offered: none, wantErr: "not the one"},
		{name: "two extensions", value: "permessage-deflate, permessage-deflate", offered: none, wantErr: "not the one"},
		{name: "extra extension", value: "permessage-deflate, foo", offered: none, wantErr: "not the one"},
		{name: "empty", value: "", offered: none, wantErr: "not the one"},
		{name: "malformed", value: "permessage-deflate;", offered: none, wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkDeflateResponse(tt.value, tt.offered)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("accepted as %+v, want an error with %q", got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "websocket: ") {
					t.Fatalf("error %q, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Every combination of the four parameters, each absent or with each of
// its forms, is accepted or declined as the rules say, and what is
// accepted, the client accepts back.
func TestAcceptDeflateCombinations(t *testing.T) {
	flags := []string{"", "server_no_context_takeover"}
	cflags := []string{"", "client_no_context_takeover"}
	swin := []string{"", "server_max_window_bits=8", "server_max_window_bits=12", "server_max_window_bits=15", "server_max_window_bits=16", "server_max_window_bits"}
	cwin := []string{"", "client_max_window_bits", "client_max_window_bits=8", "client_max_window_bits=15", "client_max_window_bits=16"}
	n := 0
	for _, a := range flags {
		for _, b := range cflags {
			for _, c := range swin {
				for _, d := range cwin {
					offer := deflateName
					for _, q := range []string{a, b, c, d} {
						if q != "" {
							offer += "; " + q
						}
					}
					// Section 7.1: every well-formed offer is honoured.
					honoured := c != "server_max_window_bits=16" && c != "server_max_window_bits" && d != "client_max_window_bits=16"
					offers, err := parseExtensions([]string{offer})
					if err != nil {
						t.Fatal(err)
					}
					p, resp, ok := acceptDeflate(offers)
					if ok != honoured {
						t.Errorf("%q: accepted %v, want %v", offer, ok, honoured)
						continue
					}
					n++
					if !ok {
						continue
					}
					want := deflateParams{serverNoContextTakeover: a != "", clientNoContextTakeover: b != ""}
					fmt.Sscanf(c, "server_max_window_bits=%d", &want.serverMaxWindowBits)
					fmt.Sscanf(d, "client_max_window_bits=%d", &want.clientMaxWindowBits)
					if p != want {
						t.Errorf("%q: %+v, want %+v", offer, p, want)
					}
					offered, _, _ := readDeflateParams(offers[0].params, false)
					if back, err := checkDeflateResponse(resp, offered); err != nil || back != p {
						t.Errorf("%q: client sees %q as %+v, %v", offer, resp, back, err)
					}
				}
			}
		}
	}
	if n != 2*2*6*5 {
		t.Fatalf("%d combinations checked", n)
	}
}
