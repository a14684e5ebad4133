package main

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// The charts of BENCH.md: SVG written by hand, sized for GitHub's page
// (about 900 px wide), wsraise's echoes in strong warm colours and the
// peers in muted cool ones, so that wsraise stands out at a glance.

const (
	chartWidth = 900
	chartFont  = "Helvetica, Arial, sans-serif"
	// highlightColor is plain wsraise's; its other echoes have other
	// strong warm colours (oursColors).
	highlightColor = "#d62728"
	textColor      = "#222"
	mutedText      = "#555"
	gridColor      = "#e3e3e3"
)

// oursColors are the strong colours of wsraise's echoes; peerColors the
// muted ones of the other libraries and of the raw TCP echoes.
var (
	oursColors = map[string]string{
		"wsraise":                highlightColor,
		"wsraise-stream":         "#f28e00",
		"wsraise-server":         "#8b0a1a",
		"wsraise-server-obvious": "#e7298a",
	}
	peerColors = map[string]string{
		"gorilla": "#9db4cf",
		"coder":   "#a6cbb9",
		"gobwas":  "#bfb2dc",
		"gws":     "#6f89a3",
		"x-net":   "#cfcfcf",
		"raw-tcp": "#ffffff",
		"raw-msg": "#888888",
	}
	otherColors = []string{"#b9c4cc", "#d9cbb3", "#a9b8a0"}
)

// libColor is lib's fill colour; the stroke is set for the white raw-tcp.
func libColor(lib string, i int) (fill, stroke string) {
	if c, ok := oursColors[lib]; ok {
		return c, "none"
	}
	if strings.HasPrefix(lib, "wsraise") {
		return highlightColor, "none"
	}
	if c, ok := peerColors[lib]; ok {
		if c == "#ffffff" {
			return c, "#666"
		}
		return c, "none"
	}
	return otherColors[i%len(otherColors)], "none"
}

// svg builds an SVG document.
type svg struct {
	b      strings.Builder
	width  int
	height int
}

func newSVG(width, height int) *svg {
	s := &svg{width: width, height: height}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12" fill="%s">`+"\n",
		width, height, width, height, chartFont, textColor)
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	return s
}

// num formats a coordinate; every caller passes finite numbers, and a
// NaN or an infinity is drawn as 0 rather than written into the file.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return fmt.Sprintf("%.1f", v)
}

// text writes s at (x, y); attrs are more attributes, as written.
func (s *svg) text(x, y float64, str, attrs string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s"%s>%s</text>`+"\n", num(x), num(y), attrPrefix(attrs), html.EscapeString(str))
}

// textRotated writes s at (x, y), turned by deg degrees about that point.
func (s *svg) textRotated(x, y, deg float64, str, attrs string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" transform="rotate(%s %s %s)"%s>%s</text>`+"\n",
		num(x), num(y), num(deg), num(x), num(y), attrPrefix(attrs), html.EscapeString(str))
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n",
		num(x1), num(y1), num(x2), num(y2), stroke, num(width))
}

// bar draws a bar of lib in group, with a tooltip; the data attributes
// let a test find the bars.
func (s *svg) bar(x, y, w, h float64, group, lib, fill, stroke, title string) {
	if h < 0 {
		y, h = y+h, -h
	}
	fmt.Fprintf(&s.b, `<rect class="bar" data-group="%s" data-lib="%s" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="%s"><title>%s</title></rect>`+"\n",
		html.EscapeString(group), html.EscapeString(lib), num(x), num(y), num(w), num(h), fill, stroke, html.EscapeString(title))
}

func (s *svg) swatch(x, y float64, fill, stroke string) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="14" height="14" fill="%s" stroke="%s"/>`+"\n", num(x), num(y), fill, stroke)
}

func (s *svg) String() string { return s.b.String() + "</svg>\n" }

func attrPrefix(attrs string) string {
	if attrs == "" {
		return ""
	}
	return " " + attrs
}

// legend draws a swatch and name per library in columns of colW from
// (x, y) to the chart's right edge, and returns the y below it.
func (s *svg) legend(x, y, colW float64, libs []string) float64 {
	perRow := max(1, int((float64(s.width)-x)/colW))
	for i, lib := range libs {
		lx, ly := x+float64(i%perRow)*colW, y+float64(i/perRow)*20
		fill, stroke := libColor(lib, i)
		s.swatch(lx, ly, fill, stroke)
		attrs := ""
		if strings.HasPrefix(lib, "wsraise") {
			attrs = `font-weight="bold"`
		}
		s.text(lx+20, ly+12, lib, attrs)
	}
	return y + float64((len(libs)+perRow-1)/perRow)*20
}

// logScale maps values in [lo, hi] to [y0, y1] (y0 at lo) by their
// logarithm.
type logScale struct{ lo, hi, y0, y1 float64 }

func (l logScale) y(v float64) float64 {
	v = math.Min(math.Max(v, l.lo), l.hi)
	return l.y0 + (math.Log(v)-math.Log(l.lo))/(math.Log(l.hi)-math.Log(l.lo))*(l.y1-l.y0)
}

// ratioTicks are the ticks a ratio's axis may have, on a log scale.
var ratioTicks = []float64{0.125, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8}

// ratioBounds is the axis of ratios lo to hi: from a little below lo to
// the tick at or above hi, 1 always within, at most up to most.
func ratioBounds(lo, hi, most float64) (float64, float64) {
	lo, hi = math.Min(lo, 1)/1.1, math.Min(math.Max(hi, 1), most)
	b := ratioTicks[len(ratioTicks)-1]
	for i := len(ratioTicks) - 1; i >= 0; i-- {
		if ratioTicks[i] >= hi {
			b = ratioTicks[i]
		}
	}
	return lo, b
}

// chart draws each echo's server CPU time per round trip relative to
// raw-msg's, the plain TCP store-and-forward echo, in the same cell: a
// group of bars per message size, a panel per connection count. Bars
// grow from 1 (raw-msg) on a log scale, up where an echo costs more
// than raw-msg, down where less.
func chart(run benchRun) string {
	const (
		left, right = 70.0, 20.0
		plotH       = 210.0
		groupGap    = 22.0
		barGap      = 2.0
	)
	var libs []string
	for _, lib := range libsIn(run) {
		if lib != "raw-msg" {
			libs = append(libs, lib)
		}
	}
	ratio := func(lib string, size, conns int) (float64, bool) {
		r, ok := find(run, lib, size, conns)
		base, baseOK := find(run, "raw-msg", size, conns)
		if !ok || !baseOK {
			return 0, false
		}
		c, cOK := cpuPerRoundTrip(r)
		b, bOK := cpuPerRoundTrip(base)
		if !cOK || !bOK {
			return 0, false
		}
		v := c / b
		return v, v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v)
	}
	lo, hi := 1.0, 1.0
	for _, n := range connCount {
		for _, sz := range sizes {
			for _, lib := range libs {
				if v, ok := ratio(lib, sz, n); ok {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	axisLo, axisHi := ratioBounds(lo, hi, 8)

	legendRows := (len(libs) + 1 + 3) / 4
	top := 78.0 + float64(legendRows)*20 + 10
	panelH := 30 + plotH + 44
	s := newSVG(chartWidth, int(top+panelH*float64(len(connCount))+10))
	s.text(left, 24, "Server CPU time per round trip, relative to raw TCP (raw-msg = 1): lower is better", `font-size="16" font-weight="bold"`)
	s.text(left, 44, "Each bar: a library's server CPU per round trip divided by raw-msg's (a plain TCP echo that reads", `fill="`+mutedText+`"`)
	s.text(left, 60, "each message whole, then writes it back) in the same cell. Log scale; a bar below the line is cheaper.", `fill="`+mutedText+`"`)
	s.legend(left, 72, 200, libs)
	// The reference line's own legend entry, after the libraries'.
	lx, ly := left+float64(len(libs)%4)*200, 72+float64(len(libs)/4)*20
	s.line(lx, ly+7, lx+14, ly+7, textColor, 2)
	s.text(lx+20, ly+12, "raw-msg = 1", "")

	if len(libs) == 0 || !hasLib(run, "raw-msg") {
		s.text(left, top+20, "No raw-msg echo in this run: nothing to compare with.", "")
		return s.String()
	}
	plotW := float64(chartWidth) - left - right
	groupW := plotW / float64(len(sizes))
	barW := (groupW-groupGap)/float64(len(libs)) - barGap
	for pi, n := range connCount {
		py := top + float64(pi)*panelH
		conns := "1 connection"
		if n != 1 {
			conns = fmt.Sprintf("%d connections", n)
		}
		s.text(left, py+14, conns, `font-size="14" font-weight="bold"`)
		plotTop := py + 26
		sc := logScale{lo: axisLo, hi: axisHi, y0: plotTop + plotH, y1: plotTop}
		for _, t := range ratioTicks {
			if t < axisLo || t > axisHi {
				continue
			}
			y := sc.y(t)
			if t != 1 {
				s.line(left, y, left+plotW, y, gridColor, 1)
			}
			s.text(left-6, y+4, fmt.Sprintf("%g", t), `text-anchor="end" font-size="11"`)
		}
		s.textRotated(18, plotTop+plotH/2, -90, "× raw-msg (log)", `text-anchor="middle" font-size="11" fill="`+mutedText+`"`)
		for gi, sz := range sizes {
			gx := left + float64(gi)*groupW + groupGap/2
			for li, lib := range libs {
				v, ok := ratio(lib, sz, n)
				if !ok {
					continue
				}
				x := gx + float64(li)*(barW+barGap)
				fill, stroke := libColor(lib, li)
				group := fmt.Sprintf("%s x%d", sizeName(sz), n)
				// At least 2 px, so that a bar at about 1 is still seen.
				h := sc.y(v) - sc.y(1)
				if math.Abs(h) < 2 {
					h = math.Copysign(2, -(v - 1))
				}
				s.bar(x, sc.y(1), barW, h, group, lib, fill, stroke,
					fmt.Sprintf("%s, %s: %.2f × raw-msg", lib, group, v))
				if v > axisHi {
					s.textRotated(x+barW/2+4, plotTop+4, -90, fmt.Sprintf("%.1f×", v), `text-anchor="end" font-size="10" fill="white"`)
				}
			}
			cx := left + float64(gi)*groupW + groupW/2
			s.text(cx, plotTop+plotH+16, sizeName(sz), `text-anchor="middle" font-size="13"`)
			if v, ok := ratio("wsraise", sz, n); ok {
				s.text(cx, plotTop+plotH+32, fmt.Sprintf("wsraise %.2f×", v), `text-anchor="middle" font-size="11" font-weight="bold" fill="`+highlightColor+`"`)
			}
		}
		s.line(left, sc.y(1), left+plotW, sc.y(1), textColor, 1.5)
		s.line(left, plotTop, left, plotTop+plotH, "#999", 1)
	}
	return s.String()
}

func hasLib(run benchRun, lib string) bool {
	for _, r := range run.Load {
		if r.Lib == lib {
			return true
		}
	}
	return false
}

// niceStep is a step of 1, 2 or 5 times a power of ten that divides
// [0, hi] into at most n parts.
func niceStep(hi float64, n int) float64 {
	if hi <= 0 || math.IsNaN(hi) || math.IsInf(hi, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(hi/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if hi/(m*p) <= float64(n) {
			return m * p
		}
	}
	return 10 * p
}

// idleChart draws the memory each idle connection costs the server, a
// bar per library, the cheapest first.
func idleChart(run benchRun) string {
	const (
		labelX   = 190.0
		left     = 200.0
		right    = 90.0
		rowH     = 28.0
		barH     = 18.0
		top      = 78.0
		axisRoom = 48.0
	)
	var have, without []idleResult
	for _, r := range run.Idle {
		if r.BytesPerConn > 0 && !math.IsInf(r.BytesPerConn, 0) {
			have = append(have, r)
		} else {
			without = append(without, r)
		}
	}
	slices.SortStableFunc(have, func(a, b idleResult) int { return cmp.Compare(a.BytesPerConn, b.BytesPerConn) })
	rows := len(have) + len(without)
	s := newSVG(chartWidth, int(top+float64(rows)*rowH+axisRoom+10))
	s.text(20, 24, "Memory per idle connection: lower is better", `font-size="16" font-weight="bold"`)
	conns := 0
	if len(run.Idle) > 0 {
		conns = run.Idle[0].Conns
	}
	s.text(20, 44, fmt.Sprintf("The growth of the server's resident memory (VmRSS) with %d connections held open, idle,", conns), `fill="`+mutedText+`"`)
	s.text(20, 60, "divided by their number: what each connection costs while it waits.", `fill="`+mutedText+`"`)
	if len(have) == 0 {
		s.text(20, top+20, "No figures in this run.", "")
		return s.String()
	}
	hi := have[len(have)-1].BytesPerConn / 1024
	step := niceStep(hi, 6)
	axisHi := math.Ceil(hi/step) * step
	plotW := float64(chartWidth) - left - right
	x := func(kib float64) float64 { return left + kib/axisHi*plotW }
	bottom := top + float64(len(have))*rowH
	for t := 0.0; t <= axisHi+step/2; t += step {
		s.line(x(t), top-4, x(t), bottom, gridColor, 1)
		s.text(x(t), bottom+16, fmt.Sprintf("%g", t), `text-anchor="middle" font-size="11"`)
	}
	s.text(left+plotW/2, bottom+32, "KiB per connection", `text-anchor="middle" font-size="11" fill="`+mutedText+`"`)
	for i, r := range have {
		y := top + float64(i)*rowH
		fill, stroke := libColor(r.Lib, i)
		attrs := `text-anchor="end" font-size="13"`
		if strings.HasPrefix(r.Lib, "wsraise") {
			attrs += ` font-weight="bold"`
		}
		s.text(labelX, y+barH/2+5, r.Lib, attrs)
		kib := r.BytesPerConn / 1024
		s.bar(left, y, x(kib)-left, barH, "idle", r.Lib, fill, stroke, fmt.Sprintf("%s: %.0f bytes per connection", r.Lib, r.BytesPerConn))
		s.text(x(kib)+6, y+barH/2+5, fmt.Sprintf("%.1f KiB", kib), `font-size="12"`)
	}
	s.line(left, top-4, left, bottom, "#999", 1)
	for i, r := range without {
		y := bottom + axisRoom + float64(i)*rowH
		s.text(labelX, y+barH/2+5, r.Lib, `text-anchor="end" font-size="13"`)
		why := "no figure"
		if r.FirstError != "" {
			why += ": " + abbreviate(r.FirstError, 70)
		}
		s.text(left, y+barH/2+5, why, `font-style="italic" fill="`+mutedText+`"`)
	}
	return s.String()
}

// abbreviate cuts s to at most n runes, with an ellipsis if it was cut.
func abbreviate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// compressChart draws the compression comparison: for each workload, by
// mode, what compression saves (payload bytes over wire bytes) and what
// it costs (CPU time per round trip, both ends), a bar per library.
func compressChart(rs []compressResult) string {
	const (
		left     = 62.0
		panelW   = 360.0
		panelGap = 96.0
		plotH    = 160.0
		groupGap = 26.0
		barGap   = 4.0
	)
	var libs, modes, workloads []string
	for _, r := range rs {
		if !slices.Contains(libs, r.Lib) {
			libs = append(libs, r.Lib)
		}
		if !slices.Contains(modes, r.Mode) {
			modes = append(modes, r.Mode)
		}
		if !slices.Contains(workloads, r.Workload) {
			workloads = append(workloads, r.Workload)
		}
	}
	// A figure of a case that ran without error, or none.
	get := func(w, mode, lib string) (compressResult, bool) {
		for _, r := range rs {
			if r.Workload == w && r.Mode == mode && r.Lib == lib {
				return r, r.RoundTrips > 0 && r.Errors == 0 && r.Mismatches == 0
			}
		}
		return compressResult{}, false
	}
	ratio := func(r compressResult) (float64, bool) {
		wire := r.UpWire + r.DownWire
		v := 2 * r.Payload / wire
		return v, wire > 0 && v > 0 && !math.IsInf(v, 0)
	}
	cpu := func(r compressResult) (float64, bool) {
		return r.CPUus, r.CPUus > 0 && !math.IsInf(r.CPUus, 0) && !math.IsNaN(r.CPUus)
	}

	top := 104.0
	rowH := 24 + 22 + plotH + 40
	s := newSVG(chartWidth, int(top+rowH*float64(len(workloads))+10))
	s.text(20, 24, "Compression (permessage-deflate): what it saves, what it costs", `font-size="16" font-weight="bold"`)
	s.text(20, 44, "Each library's own client and server over loopback, one connection, JSON chat as text messages.", `fill="`+mutedText+`"`)
	s.text(20, 60, "Left: payload bytes over bytes on the wire, both ways. Right: CPU time of both ends per round trip.", `fill="`+mutedText+`"`)
	s.legend(20, 74, 160, libs)
	s.text(chartWidth-20, 86, "n/a: no figure (a mode the library lacks, or a failed case)", `text-anchor="end" font-size="11" fill="`+mutedText+`"`)
	if len(rs) == 0 {
		s.text(20, top+20, "No figures in this run.", "")
		return s.String()
	}

	// Each panel's scale: linear from 0 for the ratio, decades for CPU.
	ratioHi, cpuLo, cpuHi := 1.0, math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		if v, ok := ratio(r); ok {
			ratioHi = math.Max(ratioHi, v)
		}
		if v, ok := cpu(r); ok {
			cpuLo, cpuHi = math.Min(cpuLo, v), math.Max(cpuHi, v)
		}
	}
	ratioStep := niceStep(ratioHi, 4)
	ratioHi = math.Ceil(ratioHi/ratioStep) * ratioStep
	if math.IsInf(cpuLo, 0) {
		cpuLo, cpuHi = 1, 10
	}
	cpuLo = math.Pow(10, math.Floor(math.Log10(cpuLo)))
	cpuHi = math.Pow(10, math.Ceil(math.Log10(cpuHi)))
	if cpuHi <= cpuLo {
		cpuHi = cpuLo * 10
	}

	groupW := panelW / float64(max(1, len(modes)))
	barW := (groupW-groupGap)/float64(max(1, len(libs))) - barGap
	for wi, w := range workloads {
		wy := top + float64(wi)*rowH
		var payload float64
		var n int
		for _, r := range rs {
			if r.Workload == w && r.Payload > 0 {
				payload, n = payload+r.Payload, n+1
			}
		}
		heading := w
		if n > 0 {
			heading += fmt.Sprintf(", %s per message on average", bytesName(payload/float64(n)))
		}
		s.text(20, wy+16, heading, `font-size="14" font-weight="bold"`)
		plotTop := wy + 24 + 22
		base := plotTop + plotH
		for pi, panel := range []struct {
			title string
			value func(compressResult) (float64, bool)
			y     func(float64) float64
			ticks []float64
			label func(float64) string
		}{
			{
				title: "compression ratio: higher is better",
				value: ratio,
				y:     func(v float64) float64 { return base - v/ratioHi*plotH },
				ticks: stepTicks(ratioHi, ratioStep),
				label: func(v float64) string { return fmt.Sprintf("%.2f", v) },
			},
			{
				title: "CPU µs per round trip (log scale): lower is better",
				value: cpu,
				y:     logScale{lo: cpuLo, hi: cpuHi, y0: base, y1: plotTop}.y,
				ticks: decadeTicks(cpuLo, cpuHi),
				label: func(v float64) string {
					if v < 10 {
						return fmt.Sprintf("%.1f", v)
					}
					return fmt.Sprintf("%.0f", v)
				},
			},
		} {
			px := left + float64(pi)*(panelW+panelGap)
			s.text(px, plotTop-10, panel.title, `fill="`+mutedText+`"`)
			for _, t := range panel.ticks {
				y := panel.y(t)
				s.line(px, y, px+panelW, y, gridColor, 1)
				s.text(px-6, y+4, fmt.Sprintf("%g", t), `text-anchor="end" font-size="11"`)
			}
			for gi, mode := range modes {
				gx := px + float64(gi)*groupW + groupGap/2
				for li, lib := range libs {
					x := gx + float64(li)*(barW+barGap)
					r, ok := get(w, mode, lib)
					v, vok := panel.value(r)
					if !ok || !vok {
						s.text(x+barW/2, base-4, "n/a", `text-anchor="middle" font-size="10" fill="`+mutedText+`"`)
						continue
					}
					fill, stroke := libColor(lib, li)
					group := fmt.Sprintf("%s: %s, %s", []string{"ratio", "cpu"}[pi], w, mode)
					y := panel.y(v)
					s.bar(x, y, barW, base-y, group, lib, fill, stroke, fmt.Sprintf("%s, %s, %s: %s", lib, w, mode, panel.label(v)))
					attrs := `text-anchor="middle" font-size="10"`
					if strings.HasPrefix(lib, "wsraise") {
						attrs += ` font-weight="bold"`
					}
					s.text(x+barW/2, y-4, panel.label(v), attrs)
				}
				cx := px + float64(gi)*groupW + groupW/2
				for k, l := range modeLabel(mode) {
					s.text(cx, base+15+float64(k)*13, l, `text-anchor="middle" font-size="12"`)
				}
			}
			s.line(px, base, px+panelW, base, "#999", 1)
		}
	}
	return s.String()
}

// modeLabel is a compression mode's label, in lines short enough for a
// group of bars.
func modeLabel(mode string) []string {
	if i := strings.LastIndexByte(mode, ' '); i > 0 {
		return []string{mode[:i], mode[i+1:]}
	}
	return []string{mode}
}

// bytesName is a size in bytes, rounded, in B or KiB.
func bytesName(b float64) string {
	if b >= 1<<10 {
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// stepTicks are 0, step, ... up to hi.
func stepTicks(hi, step float64) []float64 {
	var ts []float64
	for t := 0.0; t <= hi+step/2; t += step {
		ts = append(ts, t)
	}
	return ts
}

// decadeTicks are the powers of ten from lo to hi.
func decadeTicks(lo, hi float64) []float64 {
	var ts []float64
	for t := lo; t <= hi*1.001; t *= 10 {
		ts = append(ts, t)
	}
	return ts
}
