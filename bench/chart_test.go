package main

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var chartDir = flag.String("chartdir", "", "write the fixture's charts to this directory, to look at them")

// fixtureRun is testdata/run.json: the figures of docs/BENCH.md's full run
// of 2026-11-26, and for wsraise-server-obvious, which that run lacks,
// plain wsraise's scaled by the ratios of a later run.
func fixtureRun(t *testing.T) benchRun {
	t.Helper()
	b, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var run benchRun
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	return run
}

// chartBar is a bar of a chart, as drawn.
type chartBar struct {
	group, lib, fill string
}

// parseChart checks that doc is well-formed XML whose numeric attributes
// are all finite, and returns its bars.
func parseChart(t *testing.T, name, doc string) []chartBar {
	t.Helper()
	if *chartDir != "" {
		if err := os.WriteFile(filepath.Join(*chartDir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(doc, "NaN") || strings.Contains(doc, "Inf") {
		t.Errorf("%s: NaN or Inf in the chart", name)
	}
	var bars []chartBar
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", name, err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
			switch a.Name.Local {
			case "x", "y", "x1", "x2", "y1", "y2", "width", "height":
				if strings.HasSuffix(a.Value, "%") {
					continue
				}
				if v, err := strconv.ParseFloat(a.Value, 64); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s: <%s %s=%q>", name, el.Name.Local, a.Name.Local, a.Value)
				}
			}
		}
		if el.Name.Local == "rect" && attr["class"] == "bar" {
			bars = append(bars, chartBar{attr["data-group"], attr["data-lib"], attr["fill"]})
		}
	}
	if len(bars) == 0 {
		t.Errorf("%s: no bars", name)
	}
	return bars
}

// checkColors checks that wsraise's bars have the highlight colour, its
// other echoes strong colours, and no other library's any of them.
func checkColors(t *testing.T, name string, bars []chartBar) {
	t.Helper()
	strong := map[string]bool{}
	for _, c := range oursColors {
		strong[c] = true
	}
	for _, b := range bars {
		switch ours := strings.HasPrefix(b.lib, "wsraise"); {
		case b.lib == "wsraise" && b.fill != highlightColor:
			t.Errorf("%s: wsraise's bar in %q is %s, want %s", name, b.group, b.fill, highlightColor)
		case ours && !strong[b.fill]:
			t.Errorf("%s: %s's bar in %q is %s, not one of wsraise's colours", name, b.lib, b.group, b.fill)
		case !ours && strong[b.fill]:
			t.Errorf("%s: %s's bar in %q has wsraise's colour %s", name, b.lib, b.group, b.fill)
		}
	}
}

// TestChart checks the main chart: a group per message size and
// connection count, a bar in each for every library but raw-msg, the
// baseline.
func TestChart(t *testing.T) {
	run := fixtureRun(t)
	bars := parseChart(t, "bench.svg", chart(run))
	checkColors(t, "bench.svg", bars)
	got := map[string]map[string]int{}
	for _, b := range bars {
		if got[b.group] == nil {
			got[b.group] = map[string]int{}
		}
		got[b.group][b.lib]++
	}
	if len(got) != len(sizes)*len(connCount) {
		t.Errorf("%d groups, want %d", len(got), len(sizes)*len(connCount))
	}
	for _, n := range connCount {
		for _, s := range sizes {
			group := sizeName(s) + " x" + strconv.Itoa(n)
			for _, lib := range libraries {
				want := 1
				if lib == "raw-msg" {
					want = 0
				}
				if got[group][lib] != want {
					t.Errorf("group %q: %d bars of %s, want %d", group, got[group][lib], lib, want)
				}
			}
		}
	}
}

// TestChartNothingToCompare checks that runs without raw-msg, or with no
// figures at all, still make a well-formed chart without bars.
func TestChartNothingToCompare(t *testing.T) {
	run := fixtureRun(t)
	var noRaw []loadResult
	for _, r := range run.Load {
		if r.Lib != "raw-msg" {
			noRaw = append(noRaw, r)
		}
	}
	for _, r := range []benchRun{{}, {Load: noRaw}} {
		doc := chart(r)
		if err := xml.Unmarshal([]byte(doc), new(struct{})); err != nil {
			t.Errorf("not well-formed: %v", err)
		}
		if strings.Contains(doc, `class="bar"`) {
			t.Errorf("bars without raw-msg to compare with")
		}
	}
}

// TestIdleChart checks the idle chart: a bar per library with a figure,
// the cheapest first.
func TestIdleChart(t *testing.T) {
	run := fixtureRun(t)
	bars := parseChart(t, "bench-idle.svg", idleChart(run))
	checkColors(t, "bench-idle.svg", bars)
	var want []string
	have := slices.Clone(run.Idle)
	slices.SortStableFunc(have, func(a, b idleResult) int { return cmp.Compare(a.BytesPerConn, b.BytesPerConn) })
	for _, r := range have {
		if r.BytesPerConn > 0 {
			want = append(want, r.Lib)
		}
	}
	var got []string
	for _, b := range bars {
		got = append(got, b.lib)
	}
	if !slices.Equal(got, want) {
		t.Errorf("bars %v, want %v", got, want)
	}
	if doc := idleChart(benchRun{}); strings.Contains(doc, `class="bar"`) || xml.Unmarshal([]byte(doc), new(struct{})) != nil {
		t.Errorf("without figures: bars, or not well-formed:\n%s", doc)
	}
}

// TestCompressChart checks the compression chart: for each workload and
// mode, a bar per library that ran it, once for the ratio and once for
// the CPU time.
func TestCompressChart(t *testing.T) {
	run := fixtureRun(t)
	bars := parseChart(t, "bench-compress.svg", compressChart(run.Compress))
	checkColors(t, "bench-compress.svg", bars)
	got := map[string]int{}
	for _, b := range bars {
		got[b.group+" "+b.lib]++
	}
	want := map[string]int{}
	for _, r := range run.Compress {
		for _, metric := range []string{"ratio", "cpu"} {
			want[metric+": "+r.Workload+", "+r.Mode+" "+r.Lib]++
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("bars (group and library: count)\n%v\nwant\n%v", got, want)
	}
	if doc := compressChart(nil); strings.Contains(doc, `class="bar"`) || xml.Unmarshal([]byte(doc), new(struct{})) != nil {
		t.Errorf("without figures: bars, or not well-formed:\n%s", doc)
	}
}
