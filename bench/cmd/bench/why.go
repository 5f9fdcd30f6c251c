package main

// The "why" of a missed target: one or two sentences worked out from the
// measurements of the run itself, never written by hand.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// targetKind says what a target compares, and so which evidence explains
// a miss.
type targetKind int

const (
	kindCPU        targetKind = iota // server CPU/op of sys relative to ref
	kindThroughput                   // throughput of sys relative to ref
	kindRSS                          // resident KB per idle session of sys
	kindCluster                      // throughput of the cluster relative to one node
	kindRedis                        // Redis round trips per operation of the cluster
	kindIdle                         // Redis commands or round trips per second per 1000 idle sessions
	kindStoreMem                     // Redis bytes per idle session
	kindRedisCPU                     // Redis CPU µs per message
	kindRedisCmds                    // Redis commands per message
)

// Thresholds above which a core counts as saturated.
const (
	clientSaturated = 85.0 // load generator, % of its core
	serverSaturated = 90.0 // server, % of its core
)

func (tg target) meets(v float64) bool {
	if tg.atMost {
		return v <= tg.limit
	}
	return v >= tg.limit
}

func rssPerSessionKB(r Run) float64 { return r.Result.RSSPer / 1024 }

func serverShare(r Run) float64 { return 100 * r.CPU / max(r.Wall, 1e-9) }

func clientShare(r Run) float64 { return 100 * r.ClientCPU / max(r.Wall, 1e-9) }

func known(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func limitString(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func pct(x float64) string { return fmt.Sprintf("%.0f%%", x) }

// opWord is what one operation of a scenario is, for prose.
func opWord(sc string) string {
	switch op := scenarioOf(sc).Op; op {
	case "round trip":
		return "message"
	case "":
		return "op"
	default:
		return op
	}
}

// perRound is the value the target checks, round by round: the ratio of
// sys to ref measured in the same round, or sys's own value.
func perRound(t table, tg target) []float64 {
	f := cpuPerOp
	switch tg.kind {
	case kindIdle, kindStoreMem, kindRedisCPU, kindRedisCmds:
		f = tg.f
	case kindThroughput, kindCluster:
		f = throughput
	case kindRSS:
		f = rssPerSessionKB
	case kindRedis:
		f = rttPerOp
	}
	rounds := make([]int, 0, len(t[tg.sc][tg.sys]))
	for k := range t[tg.sc][tg.sys] {
		rounds = append(rounds, k)
	}
	slices.Sort(rounds)
	var out []float64
	for _, k := range rounds {
		r := t[tg.sc][tg.sys][k]
		if r.Err != "" {
			continue
		}
		v := f(r)
		if tg.ref != "" {
			b, ok := t[tg.sc][tg.ref][k]
			if !ok || b.Err != "" {
				continue
			}
			v /= f(b)
		}
		if known(v) {
			out = append(out, v)
		}
	}
	return out
}

// loadRange is the lowest and highest 1-minute load average at the start
// of the runs of the given systems in one scenario.
func loadRange(t table, sc string, systems ...string) (lo, hi float64, ok bool) {
	var runs []Run
	for _, sys := range systems {
		runs = slices.AppendSeq(runs, maps.Values(t[sc][sys]))
	}
	return loadRangeAll(runs)
}

// explain says, from the run's own numbers, why a target was missed; it
// is empty for a target met or not measured.
func explain(doc resultsDoc, t table, tg target) string {
	var reasons []string
	add := func(s string) {
		if s != "" {
			reasons = append(reasons, s)
		}
	}
	switch tg.kind {
	case kindCPU:
		if paced := pacedReason(t, tg); paced != "" {
			add(paced)
			add(ceilingReason(t, tg))
			add(noiseReason(doc, t, tg))
			add(batchedReason(t, tg))
		} else {
			add(ceilingReason(t, tg))
			add(noiseReason(doc, t, tg))
			if len(reasons) < 2 {
				reasons = append([]string{cpuGapReason(t, tg)}, reasons...)
			}
		}
	case kindThroughput:
		add(clientReason(t, tg))
		add(serverBoundReason(t, tg))
		add(ceilingReason(t, tg))
		add(noiseReason(doc, t, tg))
		add(code2010Reason(t, tg))
		if len(reasons) == 0 {
			add(throughputGapReason(t, tg))
		}
	case kindRSS:
		add(rssReason(t, tg))
		add(noiseReason(doc, t, tg))
	case kindCluster:
		add(burstReason(t, tg))
		add(sharedCPUReason(t, tg))
		add(redisReason(t, tg, 0.1))
		add(noiseReason(doc, t, tg))
	case kindRedis, kindRedisCmds:
		add(redisReason(t, tg, 0))
		add(noiseReason(doc, t, tg))
	case kindRedisCPU:
		add(redisReason(t, tg, 0))
		add(redisBusyReason(t, tg))
		add(noiseReason(doc, t, tg))
	case kindIdle:
		add(idleReason(t, tg))
		add(noiseReason(doc, t, tg))
	case kindStoreMem:
		add(storeReason(t, tg))
		add(noiseReason(doc, t, tg))
	}
	if len(reasons) > 2 {
		reasons = reasons[:2]
	}
	return strings.Join(reasons, " ")
}

// noiseReason: the rounds disagree (the target met in some and missed in
// others, or a max/min ratio of 1.5 or more), with the load average.
func noiseReason(doc resultsDoc, t table, tg target) string {
	vals := perRound(t, tg)
	if len(vals) < 2 {
		return ""
	}
	met := 0
	for _, v := range vals {
		if tg.meets(v) {
			met++
		}
	}
	lo, hi := slices.Min(vals), slices.Max(vals)
	if !(met > 0 && met < len(vals)) && !(lo > 0 && hi/lo >= 1.5) {
		return ""
	}
	unit := "×"
	switch tg.kind {
	case kindRSS:
		unit = " KB"
	case kindRedis, kindIdle, kindRedisCmds:
		unit = ""
	case kindStoreMem:
		unit = " B"
	case kindRedisCPU:
		unit = " µs"
	}
	list := make([]string, len(vals))
	for i, v := range vals {
		list[i] = num(v) + unit
	}
	s := fmt.Sprintf("The rounds disagree: %s", strings.Join(list, ", "))
	if met > 0 {
		s += fmt.Sprintf(" (met in %d of %d)", met, len(vals))
	} else {
		s += fmt.Sprintf(" (max/min %s)", num(hi/lo))
	}
	systems := []string{tg.sys}
	if tg.ref != "" {
		systems = append(systems, tg.ref)
	}
	if llo, lhi, ok := loadRange(t, tg.sc, systems...); ok {
		s += fmt.Sprintf(", with the load average at %s–%s on %d cores when the runs started", num(llo), num(lhi), doc.Meta.Cores)
		if doc.Meta.Cores > 0 && lhi > float64(doc.Meta.Cores) {
			s += ": other work shared the machine"
		}
	}
	return s + "."
}

// pacedReason: one broadcast at a time, each delivery is a frame of its
// own, so the per-frame cost is what is compared.
func pacedReason(t table, tg target) string {
	if !strings.HasSuffix(tg.sc, "-paced") {
		return ""
	}
	a, b := t.metric(tg.sc, tg.sys, cpuPerOp).Med, t.metric(tg.sc, tg.ref, cpuPerOp).Med
	if !known(a, b) {
		return ""
	}
	return fmt.Sprintf("One broadcast at a time, every delivery is a frame of its own, so nothing is batched: %s spent %s µs of CPU per delivery, %s %s µs.",
		label(tg.sys), num(a), label(tg.ref), num(b))
}

// batchedReason: the same comparison sent back to back, where a server
// may batch, for a paced scenario.
func batchedReason(t table, tg target) string {
	burst := strings.TrimSuffix(tg.sc, "-paced")
	r := t.ratio(burst, tg.sys, tg.ref, cpuPerOp).Med
	if burst == tg.sc || !known(r) {
		return ""
	}
	return fmt.Sprintf("Sent back to back (`%s`), where a delivery need not be a frame of its own, %s had %s× %s's CPU per delivery.", burst, label(tg.sys), num(r), label(tg.ref))
}

// ceilingReason: raw gorilla, which does the least a websocket server can,
// is itself near or past the limit relative to the same reference.
func ceilingReason(t table, tg target) string {
	if tg.ref == "raw" || len(t[tg.sc]["raw"]) == 0 {
		return ""
	}
	f, what := cpuPerOp, "CPU per "+opWord(tg.sc)
	if tg.kind == kindThroughput {
		f, what = throughput, "throughput"
	}
	raw := t.ratio(tg.sc, "raw", tg.ref, f).Med
	ours := t.ratio(tg.sc, tg.sys, "raw", f).Med
	if !known(raw, ours) {
		return ""
	}
	// Only when the ceiling leaves less than 10% of room.
	if tg.atMost && raw < tg.limit*0.9 || !tg.atMost && raw > tg.limit*1.1 {
		return ""
	}
	s := fmt.Sprintf("Raw gorilla, the ceiling, had %s× %s's %s here", num(raw), label(tg.ref), what)
	switch {
	case !tg.meets(raw) && tg.atMost:
		s += fmt.Sprintf(", so ≤ %s× asks for less than a bare websocket server", limitString(tg.limit))
	case !tg.meets(raw) && !tg.atMost:
		s += fmt.Sprintf(", so ≥ %s× asks for more than a bare websocket server", limitString(tg.limit))
	default:
		s += fmt.Sprintf(", within %.0f%% of the target", 100*math.Abs(raw/tg.limit-1))
	}
	return s + fmt.Sprintf("; %s had %s× raw gorilla's.", label(tg.sys), num(ours))
}

// cpuGapReason states the two systems' CPU per operation.
func cpuGapReason(t table, tg target) string {
	a, b := t.metric(tg.sc, tg.sys, cpuPerOp), t.metric(tg.sc, tg.ref, cpuPerOp)
	if !known(a.Med, b.Med) {
		return ""
	}
	return fmt.Sprintf("%s spent %s µs of server CPU per %s, %s %s µs.", label(tg.sys), a, opWord(tg.sc), label(tg.ref), b)
}

// clientReason: the load generator's core was saturated, so throughput
// measures the load generator and CPU per operation is what to compare.
func clientReason(t table, tg target) string {
	a, b := t.metric(tg.sc, tg.sys, clientShare).Med, t.metric(tg.sc, tg.ref, clientShare).Med
	cr := t.ratio(tg.sc, tg.sys, tg.ref, cpuPerOp).Med
	if !known(a, b, cr) || max(a, b) < clientSaturated {
		return ""
	}
	return fmt.Sprintf("The load generator's core was %s busy in the runs of %s and %s in those of %s: throughput is bounded by the load generator, and server CPU per %s (%s× %s) is the figure to compare.",
		pct(a), label(tg.sys), pct(b), label(tg.ref), opWord(tg.sc), num(cr), label(tg.ref))
}

// serverBoundReason: the server's core was saturated, so its rate is one
// over its CPU per operation, and that ratio caps the throughput ratio.
func serverBoundReason(t table, tg target) string {
	s := t.metric(tg.sc, tg.sys, serverShare).Med
	cr := t.ratio(tg.sc, tg.sys, tg.ref, cpuPerOp).Med
	if !known(s, cr) || s < serverSaturated || 1/cr >= tg.limit {
		return ""
	}
	return fmt.Sprintf("%s's core was %s busy, so its rate is bounded by its CPU per %s, %s× %s's: with the same CPU that allows %s×, not %s×.",
		label(tg.sys), pct(s), opWord(tg.sc), num(cr), label(tg.ref), num(1/cr), limitString(tg.limit))
}

// code2010Reason: the reference answered many requests with c[2010],
// which sockjs-client would have ended the session on.
func code2010Reason(t table, tg target) string {
	var n, ops int64
	for _, r := range t[tg.sc][tg.ref] {
		n += r.Result.Code2010
		ops += r.Result.Ops
	}
	if ops == 0 || float64(n)/float64(ops) < 0.01 {
		return ""
	}
	return fmt.Sprintf("%s answered %d requests with c[2010] (%s per %s): a browser would have closed each of those sessions, where the load generator retried.",
		label(tg.ref), n, num(float64(n)/float64(ops)), opWord(tg.sc))
}

func throughputGapReason(t table, tg target) string {
	a, b := t.metric(tg.sc, tg.sys, throughput), t.metric(tg.sc, tg.ref, throughput)
	if !known(a.Med, b.Med) {
		return ""
	}
	return fmt.Sprintf("%s did %s %s, %s %s.", label(tg.sys), a, scenarioOf(tg.sc).Unit, label(tg.ref), b)
}

// rssReason compares with raw gorilla's bare connection.
func rssReason(t table, tg target) string {
	ours := t.metric(tg.sc, tg.sys, rssPerSessionKB).Med
	raw := t.metric(tg.sc, "raw", rssPerSessionKB).Med
	if !known(ours, raw) {
		return ""
	}
	s := fmt.Sprintf("Raw gorilla's bare websocket connection took %s KB per session on this machine, ", num(raw))
	if raw >= tg.limit {
		s += fmt.Sprintf("already more than %s KB", num(tg.limit))
	} else {
		s += fmt.Sprintf("which leaves %s KB for everything a SockJS session adds", num(tg.limit-raw))
	}
	s += fmt.Sprintf("; %s took %s KB more than that", label(tg.sys), num(ours-raw))
	if g := t.metric(tg.sc, "sockjsgo", rssPerSessionKB).Med; known(g) {
		s += fmt.Sprintf(" (sockjs-go: %s KB per session)", num(g))
	}
	return s + "."
}

// burstReason: in a burst, one node batches many broadcasts into a frame,
// which the CPU per delivery against the paced scenario shows.
func burstReason(t table, tg target) string {
	if !strings.HasPrefix(tg.sc, "broadcast") || strings.HasSuffix(tg.sc, "-paced") {
		return ""
	}
	paced := tg.sc + "-paced"
	burst, one := t.metric(tg.sc, tg.ref, cpuPerOp).Med, t.metric(paced, tg.ref, cpuPerOp).Med
	if !known(burst, one) || burst <= 0 || one/burst < 2 {
		return ""
	}
	return fmt.Sprintf("Sent back to back, %s spent %s µs of CPU per delivery, %s× less than one broadcast at a time (`%s`: %s µs), so it put many broadcasts into each frame.",
		label(tg.ref), num(burst), num(one/burst), paced, num(one))
}

// sharedCPUReason: the cluster's nodes and redis-server all run on the one
// server CPU the single node has to itself.
func sharedCPUReason(t table, tg target) string {
	var redis, total float64
	nodes := 0
	for _, r := range t[tg.sc][tg.sys] {
		n := 0
		for name, v := range r.ProcCPU {
			if name == "redis-server" {
				redis += v
			} else {
				n++
			}
			total += v
		}
		nodes = max(nodes, n)
	}
	busy := t.metric(tg.sc, tg.sys, serverShare).Med
	cr := t.ratio(tg.sc, tg.sys, tg.ref, cpuPerOp).Med
	a, b := t.metric(tg.sc, tg.sys, cpuPerOp).Med, t.metric(tg.sc, tg.ref, cpuPerOp).Med
	if total == 0 || !known(busy, cr, a, b) {
		return ""
	}
	return fmt.Sprintf("The %d nodes and redis-server share the one server CPU (%s busy; redis-server %s of it, the nodes %s), and the cluster spent %s× a single node's CPU per %s (%s µs against %s µs).",
		nodes, pct(busy), pct(100*redis/total), pct(100*(total-redis)/total), num(cr), opWord(tg.sc), num(a), num(b))
}

// redisReason breaks the Redis work per operation down by command; below
// minRTT round trips per operation it says nothing.
func redisReason(t table, tg target, minRTT float64) string {
	rtt := t.metric(tg.sc, tg.sys, rttPerOp).Med
	if !known(rtt) || rtt < minRTT {
		return ""
	}
	ok := func(yield func(Run) bool) {
		for _, r := range t[tg.sc][tg.sys] {
			if r.Err == "" && !yield(r) {
				return
			}
		}
	}
	keys, sum, ops := redisCommands(ok)
	var all int64
	for _, v := range sum {
		all += v
	}
	if ops == 0 || all == 0 {
		return ""
	}
	var parts []string
	for _, k := range keys[:min(5, len(keys))] {
		parts = append(parts, fmt.Sprintf("`%s` %s", k, num(float64(sum[k])/float64(ops))))
	}
	more := ""
	if len(keys) > 5 {
		more = fmt.Sprintf(" and %d more", len(keys)-5)
	}
	return fmt.Sprintf("Each %s took %s Redis round trips carrying %s commands: %s%s (commands inside Lua scripts included).",
		opWord(tg.sc), num(rtt), num(float64(all)/float64(ops)), strings.Join(parts, ", "), more)
}

// idleReason breaks the Redis work of idle sessions down by command, per
// second per 1000 sessions, and per heartbeat (poll cycle) received.
func idleReason(t table, tg target) string {
	var all, rtt, cycles, ops int64
	var secs float64
	sum := map[string]int64{}
	for _, r := range t[tg.sc][tg.sys] {
		if r.Err != "" || r.Result.Ops == 0 || r.Wall <= 0 {
			continue
		}
		for k, v := range r.Redis {
			sum[k] += v
			all += v
		}
		rtt += r.RedisRTT
		cycles += r.Result.Cycles
		ops += r.Result.Ops
		secs += r.Wall * float64(r.Result.Ops) / 1000 // 1000-session seconds
	}
	if secs == 0 || all == 0 {
		return ""
	}
	keys, sum, _ := redisCommands(func(yield func(Run) bool) { yield(Run{Redis: sum}) })
	var parts []string
	for _, k := range keys[:min(5, len(keys))] {
		parts = append(parts, fmt.Sprintf("`%s` %s", k, num(float64(sum[k])/secs)))
	}
	more := ""
	if len(keys) > 5 {
		more = fmt.Sprintf(" and %d more", len(keys)-5)
	}
	s := fmt.Sprintf("Per second per 1000 idle sessions Redis took %s round trips carrying %s commands: %s%s (commands inside Lua scripts included).",
		num(float64(rtt)/secs), num(float64(all)/secs), strings.Join(parts, ", "), more)
	if cycles > 0 {
		beat := "heartbeat received"
		if tg.sc == "capacity-idle-xhr-polling" {
			beat = "poll cycle"
		}
		s += fmt.Sprintf(" That is %s round trips and %s commands per %s (%s per second per 1000 sessions).",
			num(float64(rtt)/float64(cycles)), num(float64(all)/float64(cycles)), beat, num(float64(cycles)/secs))
	}
	return s
}

// storeReason states how much Redis grew for the sessions.
func storeReason(t table, tg target) string {
	var grew float64
	var n int64
	for _, r := range t[tg.sc][tg.sys] {
		if r.Err == "" && r.Result.Ops > 0 {
			grew += r.Result.StorePer * float64(r.Result.Ops)
			n += r.Result.Ops
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("Redis's used_memory grew by %s MB for %d sessions (all rounds): %s B per session.", num(grew/(1<<20)), n, num(grew/float64(n)))
}

// redisBusyReason: how busy redis-server was, and its share of the
// cluster's CPU.
func redisBusyReason(t table, tg target) string {
	share := t.metric(tg.sc, tg.sys, redisShare).Med
	if !known(share) {
		return ""
	}
	return fmt.Sprintf("redis-server was %s busy over the window. %s", pct(share), cpuBreakdown(t[tg.sc][tg.sys]))
}
