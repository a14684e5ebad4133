package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundSpread(t *testing.T) {
	for _, c := range []struct {
		a, b []float64
		want string
	}{
		{[]float64{100, 90, 110}, []float64{100, 100, 100}, " [0.90-1.10]"},
		{[]float64{100}, []float64{50}, ""},
		{[]float64{100, 100}, []float64{100}, ""},
		{[]float64{100, 100}, []float64{100, 0}, ""},
	} {
		if got := roundSpread(loadResult{RoundRTPS: c.a}, loadResult{RoundRTPS: c.b}); got != c.want {
			t.Errorf("roundSpread(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

// TestFrameworkRatio checks the framework's table: server CPU per round
// trip over plain wsproto's, with the rounds' spread, and "-" where a
// figure is missing.
func TestFrameworkRatio(t *testing.T) {
	run := benchRun{Rounds: 2}
	for _, n := range connCount {
		for _, s := range sizes {
			run.Load = append(run.Load,
				loadResult{Lib: "wsraise", Size: s, Conns: n, RoundTrips: 1000, ServerCPU: 0.010, RoundCPUus: []float64{10, 10}},
				loadResult{Lib: "wsraise-server", Size: s, Conns: n, RoundTrips: 1000, ServerCPU: 0.011, RoundCPUus: []float64{10, 12}})
		}
	}
	var b strings.Builder
	frameworkMarkdown(&b, run)
	got := b.String()
	want := "| wsraise-server / wsraise |" + strings.Repeat(" 1.10 [1.00-1.20] |", len(sizes)*len(connCount)) + "\n"
	if !strings.Contains(got, want) {
		t.Errorf("no row %q in:\n%s", want, got)
	}
	want = "| wsraise-server-obvious / wsraise |" + strings.Repeat(" - |", len(sizes)*len(connCount)) + "\n"
	if !strings.Contains(got, want) {
		t.Errorf("no row %q in:\n%s", want, got)
	}
}

// TestCombineRoundCPU checks that combining rounds keeps each round's
// server CPU per round trip, and none when a round has no figure.
func TestCombineRoundCPU(t *testing.T) {
	parts := []loadResult{
		{RoundTrips: 100, Seconds: 1, ServerCPU: 0.001},
		{RoundTrips: 200, Seconds: 1, ServerCPU: 0.004},
	}
	if got := combine(parts).RoundCPUus; len(got) != 2 || got[0] != 10 || got[1] != 20 {
		t.Errorf("RoundCPUus = %v, want [10 20]", got)
	}
	parts[1].ServerCPU = 0
	if got := combine(parts).RoundCPUus; got != nil {
		t.Errorf("with a round unmeasured, RoundCPUus = %v, want none", got)
	}
}

// TestReportNamesClient checks that a report says which load client
// produced it, and how to run it again.
func TestReportNamesClient(t *testing.T) {
	for _, c := range []struct{ client, command, says string }{
		{"", "`cd bench && go run . run` (", "Load client `direct` (the default)"},
		{clientDirect, "`cd bench && go run . run` (", "Load client `direct` (the default)"},
		{clientBufio64, "`cd bench && go run . run -client bufio64` (", "Load client `bufio64`:"},
	} {
		got := markdown(benchRun{Client: c.client}, reportCharts{})
		if !strings.Contains(got, c.command) || !strings.Contains(got, c.says) {
			t.Errorf("client %q: report lacks %q or %q:\n%s", c.client, c.command, c.says, got)
		}
	}
}

// TestChartLink checks that the report links to its charts by their path
// relative to it.
func TestChartLink(t *testing.T) {
	for _, c := range []struct{ out, svg, want string }{
		{"../docs/BENCH.md", "../docs/bench.svg", "bench.svg"},
		{"/tmp/q.md", "/tmp/q.svg", "q.svg"},
		{"/tmp/r/BENCH.md", "/tmp/charts/q.svg", "../charts/q.svg"},
		{"BENCH.md", "/tmp/q.svg", ""},
	} {
		got := chartLink(c.out, c.svg)
		if c.want == "" {
			// Relative to the working directory: whatever it is, the
			// link must lead to the file.
			wd, _ := os.Getwd()
			if filepath.Join(wd, filepath.FromSlash(got)) != filepath.Clean(c.svg) {
				t.Errorf("chartLink(%q, %q) = %q, which does not lead to it from %s", c.out, c.svg, got, wd)
			}
			continue
		}
		if got != c.want {
			t.Errorf("chartLink(%q, %q) = %q, want %q", c.out, c.svg, got, c.want)
		}
	}
}

// TestReportEmbedsCharts checks that the report shows each chart, with
// alt text, where its figures are.
func TestReportEmbedsCharts(t *testing.T) {
	run := benchRun{
		Idle:     []idleResult{{Lib: "wsraise", Conns: 10, BytesPerConn: 1000}},
		Compress: []compressResult{{Lib: "wsraise", Mode: compOff, Workload: "chat message"}},
	}
	got := markdown(run, reportCharts{Main: "b.svg", Idle: "b-idle.svg", Compress: "b-compress.svg"})
	for _, want := range []string{"](b.svg)\n", "](b-idle.svg)\n", "](b-compress.svg)\n"} {
		i := strings.Index(got, want)
		if i < 0 {
			t.Errorf("no image %q in:\n%s", want, got)
			continue
		}
		if alt := got[strings.LastIndex(got[:i], "![")+2 : i]; len(alt) < 20 {
			t.Errorf("image %q: alt text %q, too short to describe the chart", want, alt)
		}
	}
	if i, j := strings.Index(got, "## Idle"), strings.Index(got, "](b-idle.svg)"); i < 0 || j < i {
		t.Errorf("the idle chart is not in the idle section:\n%s", got)
	}
	if i, j := strings.Index(got, "## Compression"), strings.Index(got, "](b-compress.svg)"); i < 0 || j < i {
		t.Errorf("the compression chart is not in the compression section:\n%s", got)
	}
	if got := siblingChart("../docs/bench.svg", "idle"); got != "../docs/bench-idle.svg" {
		t.Errorf("siblingChart = %q", got)
	}
}
