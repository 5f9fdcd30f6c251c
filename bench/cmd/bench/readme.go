package main

// The benchmark block of the repository's README.md: the machine, date
// and command, the summary table, message integrity and the targets, all
// generated from the results, written between two marker comments.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	readmeBegin = "<!-- bench:begin"
	readmeEnd   = "<!-- bench:end -->"
)

// errNoMarkers is returned for a README without exactly one begin marker
// followed by exactly one end marker.
var errNoMarkers = errors.New("no generated benchmark block")

// readmePath is the README whose block is regenerated: -readme, or the
// repository's README.md two levels above the report's directory
// (docs/bench -> README.md).
func readmePath(flagValue, out string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(out, "..", "..", "README.md")
}

// replaceBlock returns readme with what lies between the markers replaced
// by block; everything else is kept byte for byte.
func replaceBlock(readme []byte, block string) ([]byte, error) {
	begin, end := "`"+readmeBegin+" ... -->`", "`"+readmeEnd+"`"
	b := bytes.Index(readme, []byte(readmeBegin))
	e := bytes.Index(readme, []byte(readmeEnd))
	switch {
	case b < 0 && e < 0:
		return nil, fmt.Errorf("%w: neither %s nor %s found; put the two, each on a line of its own, where the block goes", errNoMarkers, begin, end)
	case b < 0 || e < 0:
		return nil, fmt.Errorf("%w: %s and %s must both be there; only one was found", errNoMarkers, begin, end)
	case bytes.Count(readme, []byte(readmeBegin)) > 1 || bytes.Count(readme, []byte(readmeEnd)) > 1:
		return nil, fmt.Errorf("%w: %s or %s appears more than once", errNoMarkers, begin, end)
	}
	closing := bytes.Index(readme[b:], []byte("-->"))
	if closing < 0 || b+closing+3 > e {
		return nil, fmt.Errorf("%w: %s must be closed and come before %s", errNoMarkers, begin, end)
	}
	start := b + closing + 3
	var out bytes.Buffer
	out.Write(readme[:start])
	out.WriteString("\n\n")
	out.WriteString(strings.TrimRight(block, "\n"))
	out.WriteString("\n\n")
	out.Write(readme[e:])
	return out.Bytes(), nil
}

// checkReadme fails, naming the file, if it has no block to replace.
func checkReadme(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("README with the benchmark block (-readme): %w", err)
	}
	if _, err := replaceBlock(b, ""); err != nil {
		return fmt.Errorf("%s: %w (nothing written)", path, err)
	}
	return nil
}

// writeReadme regenerates the block of the README at path from doc; out is
// the directory of the full report, which the block links to. Without the
// markers it returns an error and leaves the file as it is.
func writeReadme(path, out string, doc resultsDoc) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("README with the benchmark block (-readme): %w", err)
	}
	link := "docs/bench"
	if rel, err := filepath.Rel(filepath.Dir(path), out); err == nil {
		link = filepath.ToSlash(rel)
	}
	updated, err := replaceBlock(old, readmeBlock(doc, link))
	if err != nil {
		return fmt.Errorf("%s: %w (nothing written)", path, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, updated, fi.Mode().Perm())
}

// readmeBlock is the README's summary of a run; reportDir is the full
// report's directory relative to the README.
func readmeBlock(doc resultsDoc, reportDir string) string {
	t := index(doc.Runs)
	m := doc.Meta
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	report := reportDir + "/README.md"

	// Machine, date and command.
	when := m.Date.UTC().Format("2006-01-02 15:04")
	switch {
	case m.Finished.IsZero():
	case m.Finished.UTC().Format("2006-01-02") == m.Date.UTC().Format("2006-01-02"):
		when += "–" + m.Finished.UTC().Format("15:04")
	default:
		when += " – " + m.Finished.UTC().Format("2006-01-02 15:04")
	}
	p("Measured on %s UTC on %s with %d cores and %s RAM (%s, Go %s, node %s, redis-server %s). ",
		when, article(m.CPUModel), m.Cores, memGB(m.MemTotal), kernelShort(m.Kernel),
		firstMatch(`go(\d+\.\d+(?:\.\d+)?)`, m.Go), strings.TrimPrefix(m.Node, "v"), firstMatch(`v=(\S+)`, m.Redis))
	p("Each server was pinned to CPU %s and the load generator to CPU %s; %s (%s mode), systems taking turns. ",
		m.ServerCPU, m.ClientCPU, roundsWord(m.Mode.Rounds), m.Mode.Name)
	if lo, hi, ok := loadRangeAll(doc.Runs); ok {
		if m.Cores > 0 && hi > float64(m.Cores) {
			p("Other work was running on the machine (1-minute load average %.1f–%.1f when the runs started), so server CPU per operation is the steadier comparison. ", lo, hi)
		} else {
			p("The 1-minute load average was %.1f–%.1f when the runs started. ", lo, hi)
		}
	}
	p("Command: `%s`.\n\n", m.Command)

	// Legend.
	var peers []string
	for _, s := range m.Systems {
		switch s {
		case "sockjsgo":
			peers = append(peers, "sockjs-go v"+m.Peers["sockjs-go"])
		case "sockjsnode":
			peers = append(peers, "sockjs-node "+m.Peers["sockjs-node"])
		case "raw":
			peers = append(peers, fmt.Sprintf("a plain gorilla/websocket v%s server as the ceiling", m.Peers["gorilla/websocket"]))
		}
	}
	if len(peers) > 0 {
		if n := len(peers); n > 1 {
			peers[n-1] = "and " + peers[n-1]
		}
		sep := ", "
		if len(peers) == 2 {
			sep = " "
		}
		p("Peers: %s. ", strings.Join(peers, sep))
	}
	// The comparison table has a column per system but the cluster, whose
	// rows go in our column.
	comparison := slices.ContainsFunc(m.Systems, func(s string) bool { return s != "cluster" })
	switch {
	case !comparison && m.Mode.Rounds > 1:
		p("Only the cluster was measured; cells show the median of %d rounds.", m.Mode.Rounds)
	case !comparison:
		p("Only the cluster was measured, in one round.")
	case m.Mode.Rounds > 1:
		p("Cells show the median of %d rounds and, in parentheses, the ratio to sockjs-go measured in the same round (median over the rounds). ", m.Mode.Rounds)
	default:
		p("Cells show the one round's value and, in parentheses, the ratio to sockjs-go. ")
	}
	if comparison {
		p("\"Burst\" broadcasts let the server pack many messages into one frame per receiver; \"paced\" ones send the next message only when the sender has its own copy, so they measure one delivery at a time.")
	}
	if comparison && len(t["xhr-polling-echo"]["cluster"])+len(t["xhr-streaming-echo"]["cluster"]) > 0 {
		p(" In the *3 nodes + Redis* rows the sockjs-cluster column is three nodes over one redis-server, all on the server CPU, with each session's requests going round-robin over the nodes; their ratio is to a single node in the same round, and a Redis round trip is one request the nodes sent to Redis (a pipeline or a script counts once).")
	}
	p("\n\n")

	// The table.
	var cols []string
	for _, s := range m.Systems {
		if s != "cluster" {
			cols = append(cols, s)
		}
	}
	type row struct {
		label string
		sc    string
		cell  func(sc, sys string) string
	}
	l := m.Mode.Load
	perSockJSGo := func(f func(Run) float64, format func(float64) string) func(sc, sys string) string {
		return func(sc, sys string) string {
			v := t.metric(sc, sys, f).Med
			if math.IsNaN(v) {
				return "–"
			}
			s := format(v)
			if sys != "sockjsgo" {
				if r := t.ratio(sc, sys, "sockjsgo", f).Med; !math.IsNaN(r) {
					s += " (" + ratioShort(r) + ")"
				}
			}
			return s
		}
	}
	plain := func(f func(Run) float64, format func(float64) string) func(sc, sys string) string {
		return func(sc, sys string) string {
			v := t.metric(sc, sys, f).Med
			if math.IsNaN(v) {
				return "–"
			}
			return format(v)
		}
	}
	code2010 := func(sc, sys string) string {
		runs := t[sc][sys]
		if len(runs) == 0 {
			return "–"
		}
		var n int64
		for _, r := range runs {
			n += r.Result.Code2010
		}
		return thousands(float64(n))
	}
	// Cluster rows: the value goes in our column, the others are empty.
	clusterRow := func(cell func(sc string) string) func(sc, sys string) string {
		return func(sc, sys string) string {
			if sys != "ours" || len(t[sc]["cluster"]) == 0 {
				return "–"
			}
			return cell(sc)
		}
	}
	clusterRate := clusterRow(func(sc string) string {
		s := thousands(t.metric(sc, "cluster", throughput).Med)
		if r := t.ratio(sc, "cluster", "ours", throughput).Med; !math.IsNaN(r) {
			s += " (" + ratioShort(r) + ")"
		}
		return s
	})
	clusterRTT := clusterRow(func(sc string) string {
		v := t.metric(sc, "cluster", rttPerOp).Med
		if math.IsNaN(v) {
			return "–"
		}
		return short(v)
	})
	rows := []row{
		{fmt.Sprintf("websocket echo, %d sessions, msgs/s", l.Sessions), "ws-echo", perSockJSGo(throughput, thousands)},
		{"websocket echo, server CPU µs/msg", "ws-echo", perSockJSGo(cpuPerOp, short)},
		{"xhr-streaming echo, msgs/s", "xhr-streaming-echo", perSockJSGo(throughput, thousands)},
		{"xhr-streaming echo, server CPU µs/msg", "xhr-streaming-echo", perSockJSGo(cpuPerOp, short)},
		{"xhr-polling echo, msgs/s", "xhr-polling-echo", perSockJSGo(throughput, thousands)},
		{"xhr-polling echo, server CPU µs/msg", "xhr-polling-echo", perSockJSGo(cpuPerOp, short)},
		{"xhr-polling echo, c[2010] answers to own polls (all rounds)", "xhr-polling-echo", code2010},
		{fmt.Sprintf("broadcast %d ws × %d burst, deliveries/s", l.Receivers, l.Messages), "broadcast-ws", perSockJSGo(throughput, thousands)},
		{fmt.Sprintf("broadcast %d ws × %d paced, server CPU µs/delivery", l.Receivers, l.Messages), "broadcast-ws-paced", perSockJSGo(cpuPerOp, short)},
		{"idle websocket, KB/session", "idle-ws", plain(rssPerSessionKB, short)},
		{"3 nodes + Redis: xhr-streaming echo, msgs/s (× single node)", "xhr-streaming-echo", clusterRate},
		{"3 nodes + Redis: xhr-streaming echo, Redis round trips/msg", "xhr-streaming-echo", clusterRTT},
		{"3 nodes + Redis: xhr-polling echo, msgs/s (× single node)", "xhr-polling-echo", clusterRate},
		{"3 nodes + Redis: xhr-polling echo, Redis round trips/msg", "xhr-polling-echo", clusterRTT},
	}
	var lines []string
	for _, r := range rows {
		cells := make([]string, len(cols))
		measured := false
		for i, c := range cols {
			cells[i] = r.cell(r.sc, c)
			measured = measured || cells[i] != "–"
		}
		if measured {
			lines = append(lines, fmt.Sprintf("| %s | %s |\n", r.label, strings.Join(cells, " | ")))
		}
	}
	if len(lines) > 0 {
		p("| scenario |")
		for _, c := range cols {
			p(" %s |", label(c))
		}
		p("\n|---|%s\n", strings.Repeat("---|", len(cols)))
		p("%s\n", strings.Join(lines, ""))
	}
	tgs := targets(doc, t)
	if c := capacityBlock(t, tgs); c != "" {
		p("%s\n", c)
	}

	// Integrity and targets.
	var total integrity
	for _, r := range doc.Runs {
		total.lost += r.Result.Lost
		total.dup += r.Result.Dup
		total.reord += r.Result.Reordered
		total.errs += r.Result.Errors
	}
	failed := 0
	for _, r := range doc.Runs {
		if r.Err != "" {
			failed++
		}
	}
	if total.lost+total.dup+total.reord == 0 {
		p("No message was lost, duplicated or reordered in any of the %d runs", len(doc.Runs))
	} else {
		p("**⚠ Over the %d runs, %d messages were lost, %d duplicated and %d reordered**", len(doc.Runs), total.lost, total.dup, total.reord)
	}
	switch {
	case total.errs == 0 && failed == 0:
		p(", and none reported an error. ")
	default:
		p("; **%d errors were reported and %d runs did not start**. ", total.errs, failed)
	}
	met, measured := 0, 0
	for _, tg := range tgs {
		if tg.known {
			measured++
			if tg.met {
				met++
			}
		}
	}
	verb := "were"
	if met == 1 {
		verb = "was"
	}
	p("%d of the %d targets measured %s met", met, measured, verb)
	if n := len(tgs) - measured; n > 0 {
		p(" (%d not measured)", n)
	}
	p("; [%s](%s#targets) lists each target, what was measured, and why each missed one was missed, worked out from the same run.\n", report, report)
	return b.String()
}

// loadRangeAll is the lowest and highest 1-minute load average at the
// start of the runs.
func loadRangeAll(runs []Run) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		f := strings.Fields(r.LoadAvg)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		lo, hi, ok = min(lo, v), max(hi, v), true
	}
	return lo, hi, ok
}

func roundsWord(n int) string {
	words := []string{"no rounds", "one round", "two rounds", "three rounds", "four rounds", "five rounds"}
	if n >= 0 && n < len(words) {
		return words[n]
	}
	return fmt.Sprintf("%d rounds", n)
}

func article(s string) string {
	if s == "" {
		return "an unknown CPU"
	}
	if strings.ContainsRune("AEIOUaeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// memGB turns /proc/meminfo's "24684084 kB" into "24 GB".
func memGB(s string) string {
	f := strings.Fields(s)
	if len(f) == 2 && f[1] == "kB" {
		if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
			return fmt.Sprintf("%.0f GB", kb/(1<<20))
		}
	}
	return s
}

// kernelShort turns "Linux 6.18.44-fc" into "Linux 6.18".
func kernelShort(s string) string {
	if m := regexp.MustCompile(`^(\S+) (\d+\.\d+)`).FindStringSubmatch(s); m != nil {
		return m[1] + " " + m[2]
	}
	return s
}

func firstMatch(re, s string) string {
	if m := regexp.MustCompile(re).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

// thousands formats a rate as a whole number with thousands separators.
func thousands(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := strconv.FormatFloat(math.Round(math.Abs(x)), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if x < 0 {
		s = "-" + s
	}
	return s
}

// short formats a cost: one decimal, two below 1.
func short(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.Abs(x) >= 1000:
		return thousands(x)
	case math.Abs(x) >= 1 || x == 0:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// ratioShort formats a ratio: one decimal from 10×, two below.
func ratioShort(x float64) string {
	if math.Abs(x) >= 10 {
		return strconv.FormatFloat(x, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}
