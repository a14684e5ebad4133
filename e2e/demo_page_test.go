package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateScreenshot = flag.Bool("update-screenshot", false,
	"TestDemoPage writes its screenshot of the demo page to docs/demo.png")

// pageResult is what a card of the demo page shows once its connection
// has closed: the CloseEvent's fields as text, and the page's verdict.
type pageResult struct {
	Route   string `json:"route"`
	Code    string `json:"code"`
	Reason  string `json:"reason"` // as the page shows it, in double quotes
	Clean   string `json:"clean"`
	Verdict string `json:"verdict"`
	OK      bool   `json:"ok"`
}

// TestDemoPage uses the demo page in Chromium as a person would
// (demo_page.js): every button, the echo box, the log and its Clear
// button. It checks what the page shows, and that it loads with no failed
// request and no script error. It takes a screenshot, which
// -update-screenshot keeps as docs/demo.png for the README.
func TestDemoPage(t *testing.T) {
	needChromium(t)
	httpURL, _ := serveDemo(t)
	shot := filepath.Join(t.TempDir(), "demo.png")
	if *updateScreenshot {
		shot, _ = filepath.Abs(filepath.Join("..", "docs", "demo.png"))
	}
	var got struct {
		Cards []pageResult `json:"cards"`
		Echo  struct {
			Sent    []string   `json:"sent"`
			Replies []string   `json:"replies"`
			Close   pageResult `json:"close"`
		} `json:"echo"`
		Favicon struct {
			Status   int    `json:"status"`
			Type     string `json:"type"`
			Rendered bool   `json:"rendered"`
		} `json:"favicon"`
		Log           string   `json:"log"`
		LogAfterClear string   `json:"logAfterClear"`
		HTTPErrors    []string `json:"httpErrors"`
		ConsoleErrors []string `json:"consoleErrors"`
		PageErrors    []string `json:"pageErrors"`
	}
	out := run(t, 90*time.Second, "node", "demo_page.js", httpURL, shot)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	want := []pageResult{
		{Route: "/ws", Code: "1008", Reason: `"Closing the connection..."`, Clean: "true"},
		{Route: "/custom", Code: "1008", Reason: `"Custom exception"`, Clean: "true"},
		// The 403 is hidden from the page: all it gets is 1006.
		{Route: "/reject", Code: "1006", Reason: `""`, Clean: "false"},
		// CloseAfterAccept: the same raise, and the page sees it.
		{Route: "/reject-visible", Code: "1008", Reason: `"Rejected before accept"`, Clean: "true"},
	}
	if len(got.Cards) != len(want) {
		t.Fatalf("the page showed %d results, want %d: %+v", len(got.Cards), len(want), got.Cards)
	}
	check := func(g, w pageResult) {
		t.Helper()
		if g.Code != w.Code || g.Reason != w.Reason || g.Clean != w.Clean || !g.OK || g.Verdict != "✓ as expected" {
			t.Errorf("%s: the page shows code %s, reason %s, wasClean %s, %q (ok %v); want code %s, reason %s, wasClean %s, as expected",
				w.Route, g.Code, g.Reason, g.Clean, g.Verdict, g.OK, w.Code, w.Reason, w.Clean)
		}
	}
	for i, w := range want {
		check(got.Cards[i], w)
	}

	if len(got.Echo.Sent) != 2 {
		t.Fatalf("/echo: sent %q, want two messages", got.Echo.Sent)
	}
	if strings.Join(got.Echo.Replies, "\n") != strings.Join(got.Echo.Sent, "\n") {
		t.Errorf("/echo: typed %q, the page showed %q", got.Echo.Sent, got.Echo.Replies)
	}
	check(got.Echo.Close, pageResult{Route: "/echo", Code: "1000", Reason: `""`, Clean: "true"})

	for _, w := range []string{
		`/ws: close code 1008, reason "Closing the connection...", wasClean true`,
		`/reject: error event`,
		`/reject: close code 1006, reason "", wasClean false`,
		`/reject-visible: close code 1008, reason "Rejected before accept", wasClean true`,
		`/echo: received "` + got.Echo.Sent[0] + `"`,
		`/echo: close code 1000, reason "", wasClean true`,
	} {
		if !strings.Contains(got.Log, w) {
			t.Errorf("the log lacks %q:\n%s", w, got.Log)
		}
	}
	if got.LogAfterClear != "" {
		t.Errorf("after Clear log the log holds %q", got.LogAfterClear)
	}

	if f := got.Favicon; f.Status != 200 || f.Type != "image/svg+xml" || !f.Rendered {
		t.Errorf("/favicon.ico: status %d, type %q, shown on the page %v; want 200 image/svg+xml, shown", f.Status, f.Type, f.Rendered)
	}
	if len(got.HTTPErrors) > 0 || len(got.PageErrors) > 0 {
		t.Errorf("failed requests %q, script errors %q", got.HTTPErrors, got.PageErrors)
	}
	// Chromium's console reports the refused handshake of /reject, and
	// nothing else should go wrong.
	for _, e := range got.ConsoleErrors {
		if !strings.Contains(e, "/reject' failed") || !strings.Contains(e, "403") {
			t.Errorf("console error: %s", e)
		}
	}

	img, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width != 1000 || cfg.Height < 800 {
		t.Errorf("screenshot %s: %v, %dx%d; want a PNG 1000 wide, the whole page", shot, err, cfg.Width, cfg.Height)
	}
}
