package main

// Capacity: what one route costs the cluster's Redis, per idle session
// (the capacity-idle-* scenarios) and per message (the cluster's echo
// scenarios), and so how much one Redis core carries.

import (
	"fmt"
	"math"
	"strings"
)

// Targets of the capacity measurements.
const (
	idleWSCommandsLimit = 5.0   // Redis commands/s per 1000 idle websocket sessions
	heartbeatSecs       = 25.0  // the testserver's heartbeat delay (the library's default)
	pollCycleCalls      = 2.0   // store calls one poll cycle needs
	storeBytesLimit     = 600.0 // Redis bytes per idle session
	wsEchoCommandsLimit = 0.01  // Redis commands per websocket echo: 0, background work aside
)

// pollCallsLimit is the poll cycle's own cost: 2 store calls per heartbeat
// delay per session, per second per 1000 sessions (80 at 25 s).
const pollCallsLimit = pollCycleCalls / heartbeatSecs * 1000

// echoCPULimit is Redis CPU µs per message by echo scenario.
var echoCPULimit = map[string]float64{"xhr-polling-echo": 25, "xhr-streaming-echo": 20}

// holdKinds are the capacity-idle scenarios, in the order of the report,
// with the kind of session each holds.
var holdKinds = []struct{ sc, what string }{
	{"capacity-idle-ws", "websocket"},
	{"capacity-idle-xhr-streaming", "xhr-streaming"},
	{"capacity-idle-xhr-polling", "xhr-polling"},
}

// echoTransports are the cluster's echo scenarios, per transport.
var echoTransports = []struct{ sc, what string }{
	{"ws-echo", "websocket"},
	{"xhr-streaming-echo", "xhr-streaming (+ xhr_send)"},
	{"xhr-polling-echo", "xhr-polling (+ xhr_send)"},
}

// capacityTargets are the targets of the capacity measurements; check
// records one as targets does.
func capacityTargets(t table, check func(target, spread, string)) {
	has := func(sc string) bool { return len(t[sc]["cluster"]) > 0 }
	if sc := "capacity-idle-ws"; has(sc) {
		check(target{what: fmt.Sprintf("%s: ≤ %s Redis commands/s per 1000 idle websocket sessions", sc, limitString(idleWSCommandsLimit)),
			kind: kindIdle, sc: sc, sys: "cluster", limit: idleWSCommandsLimit, atMost: true, f: idleCommands},
			t.metric(sc, "cluster", idleCommands), " commands/s")
	}
	if sc := "capacity-idle-xhr-polling"; has(sc) {
		check(target{what: fmt.Sprintf("%s: ≤ %s Redis round trips/s per 1000 idle sessions, the poll cycle's own cost (%s store calls per cycle, one cycle per %s s heartbeat)",
			sc, limitString(pollCallsLimit), limitString(pollCycleCalls), limitString(heartbeatSecs)),
			kind: kindIdle, sc: sc, sys: "cluster", limit: pollCallsLimit, atMost: true, f: idleRTT},
			t.metric(sc, "cluster", idleRTT), " round trips/s")
	}
	for _, k := range holdKinds {
		if has(k.sc) {
			check(target{what: fmt.Sprintf("%s: ≤ %s B of Redis memory per idle session", k.sc, limitString(storeBytesLimit)),
				kind: kindStoreMem, sc: k.sc, sys: "cluster", limit: storeBytesLimit, atMost: true, f: storePerSession},
				t.metric(k.sc, "cluster", storePerSession), " B")
		}
	}
	for _, e := range echoTransports {
		if !has(e.sc) {
			continue
		}
		if limit, ok := echoCPULimit[e.sc]; ok {
			check(target{what: fmt.Sprintf("%s: ≤ %s µs of Redis CPU per message (cluster)", e.sc, limitString(limit)),
				kind: kindRedisCPU, sc: e.sc, sys: "cluster", limit: limit, atMost: true, f: redisCPUPerOp},
				t.metric(e.sc, "cluster", redisCPUPerOp), " µs")
		}
	}
	if sc := "ws-echo"; has(sc) {
		check(target{what: fmt.Sprintf("%s: Redis commands per echoed message = 0 (< %s: background work only; cluster)", sc, limitString(wsEchoCommandsLimit)),
			kind: kindRedisCmds, sc: sc, sys: "cluster", limit: wsEchoCommandsLimit, atMost: true, f: redisPerOp},
			t.metric(sc, "cluster", redisPerOp), "")
	}
}

// oneTick is the % of a core one clock tick of Redis CPU is over the
// shortest window of runs, per 1000 of their operations (per operation
// when perOp): below it a measurement reads 0.
func oneTick(runs map[int]Run, perOp bool) float64 {
	bound := math.NaN()
	for _, r := range runs {
		if r.Err != "" || r.Result.Ops == 0 || r.Wall <= 0 {
			continue
		}
		var v float64
		if perOp {
			v = 1e6 / clockTicks / float64(r.Result.Ops) // µs per op
		} else {
			v = 100 / clockTicks / r.Wall * 1000 / float64(r.Result.Ops) // % per 1000
		}
		if math.IsNaN(bound) || v > bound {
			bound = v
		}
	}
	return bound
}

// heldCapacity is the idle sessions of scenario sc one Redis core carries
// at half load, as text: "> n" when Redis used no measurable CPU.
func heldCapacity(t table, sc string) string {
	share := t.metric(sc, "cluster", idleShare).Med
	if n := sessionsAt(halfCore, share); !math.IsInf(n, 1) {
		return thousands(n)
	}
	return "> " + thousands(sessionsAt(halfCore, oneTick(t[sc]["cluster"], false)))
}

// msgCapacity is the messages/s of scenario sc one Redis core carries,
// as text.
func msgCapacity(t table, sc string) string {
	us := t.metric(sc, "cluster", redisCPUPerOp).Med
	if n := perCore(us); !math.IsInf(n, 1) {
		return thousands(n)
	}
	return "> " + thousands(perCore(oneTick(t[sc]["cluster"], true)))
}

// verdicts lists the targets of scenario sc with their verdicts, for a
// table cell.
func verdicts(tgs []target, sc string) string {
	var out []string
	for _, tg := range tgs {
		if tg.sc != sc || tg.sys != "cluster" || tg.kind < kindIdle {
			continue
		}
		v := "not measured"
		if tg.known {
			v = "**missed**"
			if tg.met {
				v = "met"
			}
		}
		out = append(out, fmt.Sprintf("%s: %s", tg.short(), v))
	}
	return strings.Join(out, "; ")
}

// short is a target's condition without its scenario.
func (tg target) short() string {
	s := strings.TrimPrefix(tg.what, tg.sc+": ")
	if i := strings.Index(s, " ("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ", the poll cycle's own cost")
}

func hasCapacity(t table) bool {
	for _, k := range holdKinds {
		if len(t[k.sc]["cluster"]) > 0 {
			return true
		}
	}
	for _, e := range echoTransports {
		if len(t[e.sc]["cluster"]) > 0 {
			return true
		}
	}
	return false
}

// capacitySection is the report's section on what one route costs Redis.
func capacitySection(doc resultsDoc, t table, tgs []target) string {
	if !hasCapacity(t) {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	l := doc.Meta.Mode.Load
	p("## Capacity: one route on one Redis core\n\n")
	p("From the runs of the cluster (three testserver nodes over one redis-server, each session's requests round-robin over the nodes). Redis CPU is the redis-server process's utime+stime (`/proc/<pid>/stat`, clock ticks of %s ms) over the measured window; Redis commands are `INFO commandstats` deltas over the window, commands run inside Lua scripts included; round trips are the requests the nodes sent to Redis (`ss -ti` data segments; a script or a pipeline is one, so a round trip is one store call). Median over rounds.\n\n", num(1000/clockTicks))
	held := false
	for _, k := range holdKinds {
		held = held || len(t[k.sc]["cluster"]) > 0
	}
	if held {
		p("**Idle sessions.** Each kind is measured alone on a fresh cluster: %d sessions open at an even pace over %s (one heartbeat delay, so their heartbeats and renewals are spread as in a steady state), then a window of %s with no message either way. An idle xhr-polling session is the protocol's poll cycle: the server answers each long poll with `h` after its %s s heartbeat delay and the client polls again at once, so one cycle per %s s is its own cost: %s store calls per cycle, %s calls/s per 1000 sessions. Bytes per session are Redis's `used_memory` after the sessions opened minus before, divided by the sessions. *One core carries* is the sessions that keep Redis %s busy, from its CPU per session.\n\n",
			l.Hold, l.HoldOpen, l.HoldWindow, limitString(heartbeatSecs), limitString(heartbeatSecs), limitString(pollCycleCalls), limitString(pollCallsLimit), pct(halfCore))
		p("| idle sessions | held | heartbeats/s per 1000 (polling: poll cycles) | Redis commands/s per 1000 | Redis round trips/s per 1000 | Redis CPU, %% of a core | Redis CPU per 1000 sessions, %% of a core | Redis bytes/session | one Redis core carries (at %s) | targets |\n|---|---|---|---|---|---|---|---|---|---|\n", pct(halfCore))
		for _, k := range holdKinds {
			runs := t[k.sc]["cluster"]
			if len(runs) == 0 {
				continue
			}
			p("| %s (`%s`) | %s × %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.what, k.sc,
				t.metric(k.sc, "cluster", func(r Run) float64 { return float64(r.Result.Ops) }),
				t.metric(k.sc, "cluster", func(r Run) float64 { return r.Wall }).String()+" s",
				t.metric(k.sc, "cluster", idleCycles), t.metric(k.sc, "cluster", idleCommands), t.metric(k.sc, "cluster", idleRTT),
				withUnit(t.metric(k.sc, "cluster", redisShare), "%"), withUnit(t.metric(k.sc, "cluster", idleShare), "%"),
				t.metric(k.sc, "cluster", storePerSession), heldCapacity(t, k.sc), verdicts(tgs, k.sc))
		}
		p("\n")
	}
	echo := false
	for _, e := range echoTransports {
		echo = echo || len(t[e.sc]["cluster"]) > 0
	}
	if echo {
		p("**Messages.** The cluster's echo scenarios (%d sessions, one message in flight each, for %s). Redis CPU per message is redis-server's CPU over the window divided by the messages echoed; *one core carries* is one second of Redis CPU divided by it.\n\n", l.Sessions, l.Duration)
		p("| transport | messages measured | Redis CPU µs/msg | Redis commands/msg | Redis round trips/msg | Redis, %% of a core | one Redis core carries, msgs/s | targets |\n|---|---|---|---|---|---|---|---|\n")
		for _, e := range echoTransports {
			runs := t[e.sc]["cluster"]
			if len(runs) == 0 {
				continue
			}
			var msgs int64
			for _, r := range runs {
				msgs += r.Result.Ops
			}
			p("| %s (`%s`) | %s | %s | %s | %s | %s | %s | %s |\n", e.what, e.sc, thousands(float64(msgs)),
				t.metric(e.sc, "cluster", redisCPUPerOp), t.metric(e.sc, "cluster", redisPerOp), t.metric(e.sc, "cluster", rttPerOp),
				withUnit(t.metric(e.sc, "cluster", redisShare), "%"), msgCapacity(t, e.sc), verdicts(tgs, e.sc))
		}
		p("\n*Messages measured* is the sum over rounds.\n\n")
	}
	return b.String()
}

// capacityBlock is the README's capacity table.
func capacityBlock(t table, tgs []target) string {
	if !hasCapacity(t) {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Capacity of one route on one Redis core (3 nodes + Redis; Redis CPU from redis-server's `/proc` times, commands from `INFO commandstats`, Lua scripts' commands included):\n\n")
	p("| load | Redis cost | one Redis core carries | targets |\n|---|---|---|---|\n")
	for _, k := range holdKinds {
		if len(t[k.sc]["cluster"]) == 0 {
			continue
		}
		cost := fmt.Sprintf("%s commands/s and %s round trips/s per 1000 sessions, %s B each",
			short(t.metric(k.sc, "cluster", idleCommands).Med), short(t.metric(k.sc, "cluster", idleRTT).Med), thousands(t.metric(k.sc, "cluster", storePerSession).Med))
		p("| idle %s sessions | %s | %s sessions at %s busy | %s |\n", k.what, cost, heldCapacity(t, k.sc), pct(halfCore), verdicts(tgs, k.sc))
	}
	for _, e := range echoTransports {
		if len(t[e.sc]["cluster"]) == 0 {
			continue
		}
		cost := fmt.Sprintf("%s µs of Redis CPU and %s commands per message",
			num(t.metric(e.sc, "cluster", redisCPUPerOp).Med), num(t.metric(e.sc, "cluster", redisPerOp).Med))
		p("| %s echo | %s | %s msgs/s | %s |\n", e.what, cost, msgCapacity(t, e.sc), verdicts(tgs, e.sc))
	}
	return b.String()
}

// holdResults is the Results table of a capacity-idle scenario.
func holdResults(t table, sc string, systems []string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("| system | sessions held | window (s) | heartbeats/s per 1000 | Redis commands/s per 1000 | Redis round trips/s per 1000 | Redis CPU | nodes' CPU | Redis bytes/session | server RSS (MB) | client CPU | failed / 2010 / errors |\n|%s\n", strings.Repeat("---|", 12))
	for _, sys := range systems {
		runs := t[sc][sys]
		if len(runs) == 0 {
			continue
		}
		var failed, c2010, errs int64
		for _, r := range runs {
			failed += r.Result.Lost
			c2010 += r.Result.Code2010
			errs += r.Result.Errors
		}
		nodes := func(r Run) float64 {
			v, _ := redisCPU(r)
			return 100 * (r.CPU - v) / max(r.Wall, 1e-9)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d / %d |\n", label(sys),
			t.metric(sc, sys, func(r Run) float64 { return float64(r.Result.Ops) }),
			t.metric(sc, sys, func(r Run) float64 { return r.Wall }),
			t.metric(sc, sys, idleCycles), t.metric(sc, sys, idleCommands), t.metric(sc, sys, idleRTT),
			withUnit(t.metric(sc, sys, redisShare), "%"), withUnit(t.metric(sc, sys, nodes), "%"), t.metric(sc, sys, storePerSession),
			t.metric(sc, sys, func(r Run) float64 { return float64(r.RSS) / (1 << 20) }),
			withUnit(t.metric(sc, sys, clientShare), "%"), failed, c2010, errs)
	}
	return b.String()
}

// holdBreakdown is the Redis commands of idle sessions by command, per
// second per 1000 sessions.
func holdBreakdown(runs map[int]Run) string {
	var secs float64 // 1000-session seconds
	ok := func(yield func(Run) bool) {
		for _, r := range runs {
			if r.Err == "" && r.Result.Ops > 0 && r.Wall > 0 && !yield(r) {
				return
			}
		}
	}
	for r := range ok {
		secs += r.Wall * float64(r.Result.Ops) / 1000
	}
	keys, sum, _ := redisCommands(ok)
	if len(keys) == 0 || secs == 0 {
		return "Redis commands in the window: none."
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("`%s` %s", k, num(float64(sum[k])/secs)))
	}
	return "Redis commands per second per 1000 idle sessions, by command (`INFO commandstats` deltas over the window, all rounds; commands run inside Lua scripts count here too, beside their `evalsha`): " + strings.Join(parts, ", ") + "."
}

// withUnit is a spread with unit after each number: "4.30% (3.93–5.07%)".
func withUnit(s spread, unit string) string {
	if math.IsNaN(s.Med) {
		return "–"
	}
	if s.N <= 1 || num(s.Min) == num(s.Max) {
		return num(s.Med) + unit
	}
	return fmt.Sprintf("%s%s (%s–%s%s)", num(s.Med), unit, num(s.Min), num(s.Max), unit)
}
