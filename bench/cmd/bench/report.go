package main

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func label(sys string) string {
	for _, s := range allSystems {
		if s.name == sys {
			return s.label
		}
	}
	return sys
}

func scenarioOf(name string) scenario {
	for _, s := range allScenarios {
		if s.Name == name {
			return s
		}
	}
	return scenario{Name: name, Title: name}
}

// num formats a value with about three significant digits.
func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	case math.Abs(x) >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

func (s spread) String() string {
	if math.IsNaN(s.Med) {
		return "–"
	}
	if s.N <= 1 || num(s.Min) == num(s.Max) {
		return num(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.Med), num(s.Min), num(s.Max))
}

func ratioString(s spread) string {
	if math.IsNaN(s.Med) {
		return "–"
	}
	if s.N <= 1 || num(s.Min) == num(s.Max) {
		return num(s.Med) + "×"
	}
	return fmt.Sprintf("%s× (%s–%s)", num(s.Med), num(s.Min), num(s.Max))
}

// integrity sums the loss counters of a system's runs in one scenario.
type integrity struct{ lost, dup, reord, c2010, errs int64 }

func integrityOf(runs map[int]Run) integrity {
	var i integrity
	for _, r := range runs {
		i.lost += r.Result.Lost
		i.dup += r.Result.Dup
		i.reord += r.Result.Reordered
		i.c2010 += r.Result.Code2010
		i.errs += r.Result.Errors
	}
	return i
}

func (i integrity) String() string {
	if i == (integrity{}) {
		return "0"
	}
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("**%d %s**", n, what))
		}
	}
	add(i.lost, "lost")
	add(i.dup, "dup")
	add(i.reord, "reordered")
	add(i.c2010, "×2010")
	add(i.errs, "errors")
	return "⚠ " + strings.Join(parts, ", ")
}

// target is one goal the benchmark checks.
type target struct {
	what, measured string
	met            bool
	known          bool   // measured at all
	why            string // for a missed target: what this run's numbers show

	kind     targetKind
	sc       string // scenario
	sys, ref string // the system checked and the one it is compared with
	limit    float64
	atMost   bool
	f        func(Run) float64 // the value checked, round by round (default: by kind)
}

func targets(doc resultsDoc, t table) []target {
	var out []target
	has := func(sc, sys string) bool { return len(t[sc][sys]) > 0 }
	check := func(tg target, v spread, unit string) {
		if !math.IsNaN(v.Med) {
			tg.known = true
			tg.met = tg.meets(v.Med)
			tg.measured = num(v.Med) + unit
			if v.N > 1 {
				tg.measured += fmt.Sprintf(" (%s–%s)", num(v.Min), num(v.Max))
			}
			if !tg.met {
				tg.why = explain(doc, t, tg)
			}
		}
		out = append(out, tg)
	}
	// Server CPU per operation.
	for _, sc := range []string{"xhr-streaming-echo", "xhr-polling-echo", "broadcast-ws", "broadcast-ws-paced", "broadcast-xhr-streaming", "broadcast-xhr-streaming-paced", "idle-ws"} {
		if has(sc, "ours") && has(sc, "sockjsgo") {
			check(target{what: fmt.Sprintf("%s: server CPU/op ≤ 0.75× sockjs-go", sc), kind: kindCPU, sc: sc, sys: "ours", ref: "sockjsgo", limit: 0.75, atMost: true},
				t.ratio(sc, "ours", "sockjsgo", cpuPerOp), "×")
		}
	}
	if has("ws-echo", "ours") && has("ws-echo", "raw") {
		check(target{what: "ws-echo: server CPU/op ≤ 1.1× raw gorilla", kind: kindCPU, sc: "ws-echo", sys: "ours", ref: "raw", limit: 1.1, atMost: true},
			t.ratio("ws-echo", "ours", "raw", cpuPerOp), "×")
	}
	for _, sc := range []string{"broadcast-ws", "broadcast-ws-paced"} {
		if has(sc, "ours") && has(sc, "raw") {
			check(target{what: sc + ": server CPU/op ≤ 1.5× raw gorilla", kind: kindCPU, sc: sc, sys: "ours", ref: "raw", limit: 1.5, atMost: true},
				t.ratio(sc, "ours", "raw", cpuPerOp), "×")
		}
	}
	// Throughput.
	for _, sc := range doc.Meta.Scenarios {
		if has(sc, "ours") && has(sc, "sockjsgo") {
			check(target{what: fmt.Sprintf("%s: throughput ≥ 1.3× sockjs-go", sc), kind: kindThroughput, sc: sc, sys: "ours", ref: "sockjsgo", limit: 1.3},
				t.ratio(sc, "ours", "sockjsgo", throughput), "×")
		}
	}
	if has("idle-ws", "ours") {
		check(target{what: "idle-ws: ≤ 20 KB resident per session", kind: kindRSS, sc: "idle-ws", sys: "ours", limit: 20, atMost: true},
			t.metric("idle-ws", "ours", rssPerSessionKB), " KB")
	}
	// Cluster.
	for _, sc := range []string{"xhr-polling-echo", "broadcast-ws", "broadcast-ws-paced", "broadcast-xhr-streaming", "broadcast-xhr-streaming-paced"} {
		if has(sc, "cluster") && has(sc, "ours") {
			check(target{what: fmt.Sprintf("%s: cluster throughput ≥ 0.5× single node", sc), kind: kindCluster, sc: sc, sys: "cluster", ref: "ours", limit: 0.5},
				t.ratio(sc, "cluster", "ours", throughput), "×")
		}
	}
	for _, sc := range []string{"xhr-streaming-echo", "xhr-polling-echo", "broadcast-xhr-streaming", "broadcast-xhr-streaming-paced"} {
		if has(sc, "cluster") {
			check(target{what: fmt.Sprintf("%s: Redis round trips per delivered message ≤ 2", sc), kind: kindRedis, sc: sc, sys: "cluster", limit: 2, atMost: true},
				t.metric(sc, "cluster", rttPerOp), "")
		}
	}
	if has("ws-echo", "cluster") {
		// Lease renewals run in the background whatever the traffic; any
		// per-message Redis work shows up as ≥ 1 round trip per 100 messages.
		check(target{what: "ws-echo: Redis round trips per echoed message = 0 (< 0.01: background lease renewals only)", kind: kindRedis, sc: "ws-echo", sys: "cluster", limit: 0.01, atMost: true},
			t.metric("ws-echo", "cluster", rttPerOp), "")
	}
	capacityTargets(t, check)
	// The poll cycle's target counts round trips; say what they carried.
	for i, tg := range out {
		if tg.sc == "capacity-idle-xhr-polling" && tg.kind == kindIdle && tg.known {
			out[i].measured += fmt.Sprintf("; %s commands/s and %s poll cycles/s per 1000 sessions",
				num(t.metric(tg.sc, tg.sys, idleCommands).Med), num(t.metric(tg.sc, tg.sys, idleCycles).Med))
		}
	}
	return out
}

func writeReport(dir string, doc resultsDoc) error {
	t := index(doc.Runs)
	m := doc.Meta
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Benchmark: sockjs-cluster vs sockjs-go vs sockjs-node\n\n")
	p("Generated by `bench/cmd/bench` from its own measurements (`results.json` beside this file); nothing here is edited by hand.\n\n")
	p("![server CPU per operation and throughput relative to sockjs-go](chart.svg)\n\n")
	p("What each optimisation of the server bought, measured with `bench/run.sh -quick` subsets before and after the change, is recorded by hand in [optimisations.md](optimisations.md).\n\n")
	p("- **Date**: %s – %s (%s mode, %d round(s))\n", m.Date.UTC().Format("2006-01-02 15:04 MST"), m.Finished.UTC().Format("15:04 MST"), m.Mode.Name, m.Mode.Rounds)
	p("- **Machine**: %s, %d cores, %s RAM, %s\n", m.CPUModel, m.Cores, m.MemTotal, m.Kernel)
	p("- **Command**: `%s`\n", m.Command)
	if m.Source != "" {
		p("- **Server source** (`examples/testserver`): %s\n", m.Source)
	}
	p("- **Pinning**: every server process on CPU %s (`taskset`, so Go servers run with GOMAXPROCS=1), the load generator on CPU %s; file-descriptor limit %s\n", m.ServerCPU, m.ClientCPU, m.FDLimit)
	p("- **Load average** (1, 5, 15 min): %s before, %s after; other work was running on this machine, and each run's value is in the last table\n", m.LoadBefore, m.LoadAfter)
	p("- **Software**: %s; node %s; %s\n", m.Go, m.Node, m.Redis)
	p("- **Systems**: ")
	var sl []string
	for _, s := range m.Systems {
		switch s {
		case "ours":
			sl = append(sl, "**sockjs-cluster** (`examples/testserver`, in memory)")
		case "sockjsgo":
			sl = append(sl, fmt.Sprintf("**sockjs-go** v%s (`bench/peers/sockjsgo`)", m.Peers["sockjs-go"]))
		case "sockjsnode":
			sl = append(sl, fmt.Sprintf("**sockjs-node** %s (`bench/peers/sockjsnode`)", m.Peers["sockjs-node"]))
		case "raw":
			sl = append(sl, fmt.Sprintf("**raw gorilla** websocket v%s, the ceiling: `o` frame and JSON array frames only, websocket only (`bench/peers/raw`)", m.Peers["gorilla/websocket"]))
		case "cluster":
			sl = append(sl, "**sockjs-cluster ×3 + Redis**: three testserver nodes over one redis-server, all on the server CPU; each session's requests go round-robin over the nodes")
		}
	}
	p("%s.\n", strings.Join(sl, "; "))
	l := m.Mode.Load
	p("- **Counts**: echo %d sessions × %s (ping-pong, one message in flight per session); broadcast %d receivers × %d messages; idle %d websocket sessions (%d connecting at once); capacity %d idle sessions of each kind, opened over %s, measured for %s; streaming response limit 4096 bytes on every system\n\n",
		l.Sessions, l.Duration, l.Receivers, l.Messages, l.Idle, l.Concurrency, l.Hold, l.HoldOpen, l.HoldWindow)

	// Integrity, loudly.
	p("## Message integrity\n\n")
	var bad []string
	var total integrity
	for _, sc := range m.Scenarios {
		for _, sys := range m.Systems {
			i := integrityOf(t[sc][sys])
			total.lost += i.lost
			total.dup += i.dup
			total.reord += i.reord
			total.c2010 += i.c2010
			total.errs += i.errs
			if i != (integrity{}) {
				bad = append(bad, fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d | %s |", sc, label(sys), i.lost, i.dup, i.reord, i.c2010, i.errs, firstErr(t[sc][sys])))
			}
		}
	}
	var failed []string
	for _, r := range doc.Runs {
		if r.Err != "" {
			failed = append(failed, fmt.Sprintf("round %d %s %s: %s", r.Round, r.Scenario, label(r.System), r.Err))
		}
	}
	if len(bad) == 0 && len(failed) == 0 {
		p("**All %d runs: 0 lost, 0 duplicated, 0 reordered messages, no c[2010] answers, no errors.**\n\n", len(doc.Runs))
	} else {
		p("**⚠ Not every run was clean: %d lost, %d duplicated, %d reordered messages, %d c[2010] answers, %d errors in total.**\n\n",
			total.lost, total.dup, total.reord, total.c2010, total.errs)
	}
	p("| system | runs | lost | duplicated | reordered | c[2010] answers | errors |\n|---|---|---|---|---|---|---|\n")
	for _, sys := range m.Systems {
		var i integrity
		n := 0
		for _, sc := range m.Scenarios {
			x := integrityOf(t[sc][sys])
			i.lost += x.lost
			i.dup += x.dup
			i.reord += x.reord
			i.c2010 += x.c2010
			i.errs += x.errs
			n += len(t[sc][sys])
		}
		cell := func(v int64) string {
			if v == 0 {
				return "0"
			}
			return fmt.Sprintf("**%d**", v)
		}
		p("| %s | %d | %s | %s | %s | %s | %s |\n", label(sys), n, cell(i.lost), cell(i.dup), cell(i.reord), cell(i.c2010), cell(i.errs))
	}
	p("\n")
	if len(bad) > 0 {
		p("Where they happened:\n\n| scenario | system | lost | duplicated | reordered | c[2010] | errors | first error |\n|---|---|---|---|---|---|---|---|\n")
		p("%s\n\n", strings.Join(bad, "\n"))
	}
	for _, f := range failed {
		p("- **did not start**: %s\n", f)
	}
	if len(failed) > 0 {
		p("\n")
	}
	p("A c[2010] answer (\"Another connection still open\") to a client's own next poll or stream closes the session in sockjs-client; the load generator counts it and tries again, so a server answering many of them is measured on a conversation a browser would have abandoned (and each such answer is a cheap request). Losses are counted per session from sequence numbers: a message sent and never received is lost, one received twice is duplicated, one received after a later one is reordered.\n\n")

	// Targets.
	p("## Targets\n\n| target | measured (median over rounds, min–max) | | why |\n|---|---|---|---|\n")
	tgs := targets(doc, t)
	for _, tg := range tgs {
		verdict := "not measured"
		if tg.known {
			verdict = "**missed**"
			if tg.met {
				verdict = "met"
			}
		}
		p("| %s | %s | %s | %s |\n", tg.what, tg.measured, verdict, strings.ReplaceAll(tg.why, "|", "\\|"))
	}
	p("\nRatios are taken within each round (the two systems measured seconds apart, in turn) and then summarised over the rounds. *Why* is worked out by the generator from this run's numbers (CPU shares, load average, Redis commandstats, the other systems in the same scenario) for each missed target; a met target has none.\n\n")
	p("%s", capacitySection(doc, t, tgs))

	// Scenarios.
	p("## Results\n\nMedian over rounds, (min–max) when rounds differ. *Server CPU/op* is the servers' utime+stime (`/proc/<pid>/stat`, all threads, every process of the system) during the measured window divided by the operations completed; *client CPU* is the load generator's share of its own CPU during the window (near 100%% means the numbers are bounded by the load generator, and the CPU/op column is the one to compare). RSS is `VmRSS` after the window.\n\n")
	for _, scName := range m.Scenarios {
		sc := scenarioOf(scName)
		p("### %s (`%s`)\n\n", sc.Title, sc.Name)
		p("%s\n\n", scenarioText(sc, m))
		if sc.capacity() {
			p("%s\n", holdResults(t, scName, m.Systems))
			if runs := t[scName]["cluster"]; len(runs) > 0 {
				p("%s %s\n\n", holdBreakdown(runs), cpuBreakdown(runs))
			}
			continue
		}
		head := []string{"system", sc.Unit, "× sockjs-go", "server CPU/op (µs)", "× sockjs-go"}
		echo := strings.HasSuffix(sc.Name, "echo")
		bcast := strings.HasPrefix(sc.Name, "broadcast")
		idle := sc.Name == "idle-ws"
		if echo {
			head = append(head, "p50 ms", "p99 ms")
		}
		if bcast {
			head = append(head, "last receiver complete (s)")
		}
		if idle {
			head = append(head, "RSS/session (KB)")
		}
		head = append(head, "server RSS (MB)", "client CPU", "lost / dup / reordered / 2010 / errors")
		clusterRow := len(t[scName]["cluster"]) > 0
		if clusterRow {
			head = append(head, "× single node", "Redis round trips/op", "Redis commands/op", "Redis CPU/op (µs)")
		}
		p("| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, sys := range m.Systems {
			runs := t[scName][sys]
			if len(runs) == 0 {
				continue
			}
			row := []string{label(sys),
				t.metric(scName, sys, throughput).String(),
				ratioString(t.ratio(scName, sys, "sockjsgo", throughput)),
				t.metric(scName, sys, cpuPerOp).String(),
				ratioString(t.ratio(scName, sys, "sockjsgo", cpuPerOp)),
			}
			if echo {
				row = append(row, t.metric(scName, sys, func(r Run) float64 { return r.Result.P50 }).String(),
					t.metric(scName, sys, func(r Run) float64 { return r.Result.P99 }).String())
			}
			if bcast {
				row = append(row, t.metric(scName, sys, func(r Run) float64 {
					if r.Result.Complete == 0 {
						return math.NaN()
					}
					return r.Result.Complete.Seconds()
				}).String())
			}
			if idle {
				row = append(row, t.metric(scName, sys, rssPerSessionKB).String())
			}
			row = append(row,
				t.metric(scName, sys, func(r Run) float64 { return float64(r.RSS) / (1 << 20) }).String(),
				t.metric(scName, sys, func(r Run) float64 { return 100 * r.ClientCPU / r.Wall }).String()+"%",
				integrityOf(runs).String())
			if clusterRow {
				if sys == "cluster" {
					row = append(row, ratioString(t.ratio(scName, "cluster", "ours", throughput)), t.metric(scName, sys, rttPerOp).String(), t.metric(scName, sys, redisPerOp).String(), t.metric(scName, sys, redisCPUPerOp).String())
				} else {
					row = append(row, "", "", "", "")
				}
			}
			p("| %s |\n", strings.Join(row, " | "))
		}
		if clusterRow {
			p("\n%s %s\n", redisBreakdown(t[scName]["cluster"]), cpuBreakdown(t[scName]["cluster"]))
		}
		p("\n")
	}

	// Per-run appendix.
	p("## Every run\n\n| round | scenario | system | started (UTC) | load avg | throughput | server CPU/op (µs) | server CPU | client CPU | notes |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range doc.Runs {
		notes := strings.Join(r.Notes, "; ")
		if r.Err != "" {
			notes = "did not start: " + r.Err
		}
		if r.Result.FirstErr != "" {
			notes = strings.TrimPrefix(notes+"; first error: "+r.Result.FirstErr, "; ")
		}
		p("| %d | %s | %s | %s | %s | %s | %s | %s%% | %s%% | %s |\n", r.Round, r.Scenario, label(r.System), r.Start.UTC().Format("15:04:05"), r.LoadAvg,
			num(throughput(r)), num(cpuPerOp(r)), num(100*r.CPU/max(r.Wall, 1e-9)), num(100*r.ClientCPU/max(r.Wall, 1e-9)), strings.ReplaceAll(notes, "|", "\\|"))
	}
	p("\n## Reproduce\n\n```sh\nbench/run.sh -quick   # 1 round, small counts, about 4 minutes\nbench/run.sh          # the full run: %d rounds\nbench/run.sh -profile # pprof profiles of our server (bench/cmd/profserver)\n```\n\n", fullMode.Rounds)
	p("`bench/run.sh` needs Go, node/npm (it runs `npm ci` in `bench/peers/sockjsnode`), `redis-server` and `taskset`. It builds `examples/testserver` and the peers into `bench/results/bin`, raises `ulimit -n`, and pins itself to CPU 1 and each server to CPU 0. Logs and raw results of the last run are in `bench/results/` (not committed).\n")

	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "chart.svg"), []byte(chart(doc, t)), 0o644)
}

func firstErr(runs map[int]Run) string {
	rounds := make([]int, 0, len(runs))
	for k := range runs {
		rounds = append(rounds, k)
	}
	slices.Sort(rounds)
	for _, k := range rounds {
		if e := runs[k].Result.FirstErr; e != "" {
			if len(e) > 120 {
				e = e[:120] + "…"
			}
			return strings.ReplaceAll(e, "|", "\\|")
		}
	}
	return ""
}

func redisBreakdown(runs map[int]Run) string {
	keys, sum, ops := redisCommands(maps.Values(runs))
	if len(keys) == 0 || ops == 0 {
		return "Redis commands in the window: none."
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %s", k, num(float64(sum[k])/float64(ops))))
	}
	return "Cluster Redis commands per operation, by command (`INFO commandstats` deltas over the window, all rounds; commands run inside Lua scripts count here too, beside their `evalsha`): " + strings.Join(parts, ", ") + ". *Round trips* are the requests the nodes sent to Redis: the data segments of their connections to it (`ss -ti` `data_segs_out` deltas; a pipeline or a script is one)."
}

// redisCommands sums the Redis command counts of runs and returns the
// commands, most frequent first (ties by name), with the sums and the
// runs' operations.
func redisCommands(runs iter.Seq[Run]) (keys []string, sum map[string]int64, ops int64) {
	sum = map[string]int64{}
	for r := range runs {
		for k, v := range r.Redis {
			sum[k] += v
		}
		ops += r.Result.Ops
	}
	keys = slices.Collect(maps.Keys(sum))
	slices.SortFunc(keys, func(a, b string) int {
		if sum[a] != sum[b] {
			return cmp.Compare(sum[b], sum[a])
		}
		return strings.Compare(a, b)
	})
	return keys, sum, ops
}

func scenarioText(sc scenario, m Meta) string {
	l := m.Mode.Load
	switch sc.Name {
	case "ws-echo":
		return fmt.Sprintf("%d websocket sessions on `/echo`, each sending one message and waiting for its echo, for %s. One operation is one round trip.", l.Sessions, l.Duration)
	case "xhr-streaming-echo":
		return fmt.Sprintf("%d sessions, each with an xhr_streaming response always open (a new one as soon as the server ends one at 4096 bytes), sending one message at a time with xhr_send and waiting for its echo on the stream, for %s.", l.Sessions, l.Duration)
	case "xhr-polling-echo":
		return fmt.Sprintf("%d sessions, each with an xhr poll always open (the next one sent the moment the previous answer arrives, as sockjs-client does), sending one message at a time with xhr_send and waiting for its echo, for %s. Here a server that frees its receiver late answers the next poll with c[2010].", l.Sessions, l.Duration)
	case "broadcast-ws":
		return fmt.Sprintf("%d websocket sessions on `/broadcast`; one more websocket session sends %d messages back to back, and the route sends each to every session. Throughput is the receivers' deliveries divided by the time until the last receiver had all %d. A server that queues per session can put many messages of the burst into one frame: this rewards batching.", l.Receivers, l.Messages, l.Messages)
	case "broadcast-ws-paced":
		return fmt.Sprintf("As `broadcast-ws`, but the sender sends each message only once its own copy came back: one broadcast at a time, so every delivery is (close to) a frame of its own: %d receivers × %d messages.", l.Receivers, l.Messages)
	case "broadcast-xhr-streaming":
		return fmt.Sprintf("As `broadcast-ws` with %d xhr_streaming receivers (each reconnecting whenever its response reaches 4096 bytes); the sender is a websocket session; sent back to back.", l.Receivers)
	case "broadcast-xhr-streaming-paced":
		return fmt.Sprintf("As `broadcast-xhr-streaming`, one message at a time (the sender waits for its own copy): %d receivers × %d messages.", l.Receivers, l.Messages)
	case "idle-ws":
		return fmt.Sprintf("%d websocket sessions on `/echo` opened %d at a time and left idle; throughput is opened sessions per second, CPU/op is per opened session, RSS/session is (RSS %s after the last one opened − RSS before the first) / sessions.", l.Idle, l.Concurrency, m.Mode.Settle)
	case "capacity-idle-ws", "capacity-idle-xhr-streaming", "capacity-idle-xhr-polling":
		what := map[string]string{
			"capacity-idle-ws":            "websocket sessions on `/echo`, each one websocket",
			"capacity-idle-xhr-streaming": "xhr-streaming sessions on `/echo`, each with one xhr_streaming response open (a new one, on the next node, whenever the server ends one)",
			"capacity-idle-xhr-polling":   "xhr-polling sessions on `/echo`, each with one long poll open: the server answers it with `h` after its heartbeat delay and the next poll goes at once to the next node (one poll cycle)",
		}[sc.Name]
		return fmt.Sprintf("Cluster only, a fresh one per run. %d idle %s. They open at an even pace over %s; once all are open, a window of %s with no message either way. Per 1000 sessions per second: heartbeats received (poll cycles for xhr polling), Redis commands (`INFO commandstats` deltas, Lua scripts' commands included) and round trips; Redis CPU is redis-server's share of one core over the window; bytes per session is Redis's `used_memory` after the sessions opened minus before, divided by the sessions. *Failed* counts sessions that did not open or did not last the window.", l.Hold, what, l.HoldOpen, l.HoldWindow)
	}
	return ""
}

// cpuBreakdown says how a cluster's server CPU divides between its nodes
// and redis-server.
func cpuBreakdown(runs map[int]Run) string {
	var redis, total float64
	for _, r := range runs {
		for name, v := range r.ProcCPU {
			if name == "redis-server" {
				redis += v
			}
			total += v
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("Of the cluster's server CPU, redis-server used %.0f%% and the three nodes %.0f%%.", 100*redis/total, 100*(total-redis)/total)
}
