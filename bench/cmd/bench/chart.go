package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

var colors = map[string]string{
	"ours":       "#1f6fb4",
	"sockjsgo":   "#8c8c8c",
	"sockjsnode": "#3a9a3a",
	"raw":        "#e8862a",
	"cluster":    "#8e5cbf",
}

// chart draws two panels of grouped horizontal bars, one group per
// scenario and one bar per system: throughput and server CPU per
// operation, each as the median over rounds of the ratio to sockjs-go
// measured in the same round.
func chart(doc resultsDoc, t table) string {
	m := doc.Meta
	// Scenarios of the cluster alone have no sockjs-go to compare with.
	m.Scenarios = slices.DeleteFunc(slices.Clone(m.Scenarios), func(sc string) bool { return scenarioOf(sc).ClusterOnly })
	const (
		left   = 190.0
		panelW = 330.0
		gapW   = 70.0
		barH   = 11.0
		top    = 78.0
	)
	groupH := float64(len(m.Systems))*barH + 16
	height := top + float64(len(m.Scenarios))*groupH + 60
	width := left + 2*panelW + gapW + 40
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="11">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="10" y="20" font-size="15" font-weight="bold">sockjs-cluster benchmark, relative to sockjs-go (= 1, dashed line)</text>` + "\n")
	p(`<text x="10" y="38" fill="#555">%s · %s, %d cores · %s mode, median of %d round(s) · server pinned to 1 CPU</text>`+"\n",
		html.EscapeString(m.Date.UTC().Format("2006-01-02")), html.EscapeString(m.CPUModel), m.Cores, m.Mode.Name, m.Mode.Rounds)

	panels := []struct {
		title string
		f     func(Run) float64
	}{
		{"throughput ÷ sockjs-go (higher is better)", throughput},
		{"server CPU per operation ÷ sockjs-go (lower is better)", cpuPerOp},
	}
	for pi, pn := range panels {
		x0 := left + float64(pi)*(panelW+gapW)
		// A log2 scale from the smallest to the largest median ratio (at
		// least 1/4 to 4); bars grow from 1× (sockjs-go) left or right.
		lo, hi := -2.0, 2.0
		for _, sc := range m.Scenarios {
			for _, sys := range m.Systems {
				if v := t.ratio(sc, sys, "sockjsgo", pn.f).Med; !math.IsNaN(v) && v > 0 {
					lo, hi = math.Min(lo, math.Floor(math.Log2(v))), math.Max(hi, math.Ceil(math.Log2(v)))
				}
			}
		}
		scale := func(v float64) float64 { return x0 + (math.Log2(v)-lo)/(hi-lo)*panelW }
		p(`<text x="%.1f" y="%.1f" font-size="12" font-weight="bold">%s</text>`+"\n", x0, top-22, html.EscapeString(pn.title))
		step := math.Ceil((hi - lo) / 8)
		for e := lo; e <= hi+1e-9; e += step {
			x := scale(math.Exp2(e))
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x, top-8, x, height-50)
			p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#666">%s×</text>`+"\n", x, height-38, tick(e))
		}
		x1 := scale(1)
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-dasharray="4 3"/>`+"\n", x1, top-8, x1, height-50)
		for si, sc := range m.Scenarios {
			y := top + float64(si)*groupH
			if pi == 0 {
				p(`<text x="%.1f" y="%.1f" text-anchor="end" font-weight="bold">%s</text>`+"\n", left-12, y+groupH/2-4, html.EscapeString(sc))
			}
			for k, sys := range m.Systems {
				yy := y + float64(k)*barH
				v := t.ratio(sc, sys, "sockjsgo", pn.f)
				if math.IsNaN(v.Med) {
					continue
				}
				xv := scale(math.Max(v.Med, 1e-6))
				bx, bw := math.Min(x1, xv), math.Max(math.Abs(xv-x1), 1.5)
				p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
					bx, yy, bw, barH-2, colors[sys], html.EscapeString(label(sys)), html.EscapeString(sc), html.EscapeString(ratioString(v)))
				lx, anchor := math.Max(xv, x1)+3, "start"
				if v.Med < 1 {
					lx, anchor = xv-3, "end"
				}
				p(`<text x="%.1f" y="%.1f" fill="#333" font-size="9" text-anchor="%s">%s</text>`+"\n", lx, yy+barH-3, anchor, html.EscapeString(num(v.Med)))
			}
		}
	}
	// Legend.
	lx := 10.0
	for _, sys := range m.Systems {
		p(`<rect x="%.1f" y="%.1f" width="11" height="11" fill="%s"/>`+"\n", lx, height-22, colors[sys])
		p(`<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+15, height-12.5, html.EscapeString(label(sys)))
		lx += 24 + 6.5*float64(len([]rune(label(sys))))
	}
	p("</svg>\n")
	return b.String()
}

// tick labels 2^e: 1/4, 1/2, 1, 2, 4 ...
func tick(e float64) string {
	if e >= 0 {
		return fmt.Sprintf("%g", math.Exp2(e))
	}
	return fmt.Sprintf("1/%g", math.Exp2(-e))
}
