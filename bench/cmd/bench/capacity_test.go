package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/bench/load"
)

// withCapacity adds to the synthetic run two rounds of idle websocket and
// idle xhr-polling sessions held on the cluster, with numbers easy to
// check by hand.
func withCapacity() resultsDoc {
	doc := synthetic()
	for round := 1; round <= 2; round++ {
		// 3000 websocket sessions for 30 s: 18000 commands in 9000 round
		// trips (200 commands/s and 100 round trips/s per 1000 sessions),
		// 3600 heartbeats (40/s per 1000), 0.3 s of Redis CPU (1% of a
		// core: 150,000 sessions at 50%), 500 B each.
		ws := Run{Round: round, Scenario: "capacity-idle-ws", System: "cluster", LoadAvg: "0.50 0.50 0.50", Wall: 30, CPU: 1.2,
			Result:   load.Result{Ops: 3000, Sent: 3000, Elapsed: 30 * time.Second, Cycles: 3600, StorePer: 500},
			ProcCPU:  map[string]float64{"redis-server": 0.3, "cluster-0": 0.3, "cluster-1": 0.3, "cluster-2": 0.3},
			Redis:    map[string]int64{"evalsha": 9000, "hset": 6000, "pexpire": 3000},
			RedisRTT: 9000}
		// 1000 polling sessions for 25 s: 2000 round trips (80/s per
		// 1000: the limit), 6000 commands, 1000 poll cycles, no Redis CPU
		// that a clock tick shows, 700 B each.
		poll := Run{Round: round, Scenario: "capacity-idle-xhr-polling", System: "cluster", LoadAvg: "0.50 0.50 0.50", Wall: 25, CPU: 0.5,
			Result:   load.Result{Ops: 1000, Sent: 1000, Elapsed: 25 * time.Second, Cycles: 1000, StorePer: 700},
			ProcCPU:  map[string]float64{"redis-server": 0, "cluster-0": 0.2, "cluster-1": 0.2, "cluster-2": 0.1},
			Redis:    map[string]int64{"evalsha": 2000, "hmget": 4000},
			RedisRTT: 2000}
		doc.Runs = append(doc.Runs, ws, poll)
	}
	doc.Meta.Scenarios = append(doc.Meta.Scenarios, "capacity-idle-ws", "capacity-idle-xhr-polling")
	doc.Meta.Mode = mode{Name: "full", Rounds: 2}
	doc.Meta.Mode.Load.Hold = 3000
	return doc
}

func TestCapacityMetrics(t *testing.T) {
	doc := withCapacity()
	tb := index(doc.Runs)
	for _, c := range []struct {
		what string
		sc   string
		f    func(Run) float64
		want float64
	}{
		{"ws commands/s per 1000", "capacity-idle-ws", idleCommands, 200},
		{"ws round trips/s per 1000", "capacity-idle-ws", idleRTT, 100},
		{"ws heartbeats/s per 1000", "capacity-idle-ws", idleCycles, 40},
		{"ws Redis % of a core", "capacity-idle-ws", redisShare, 1},
		{"ws Redis % per 1000", "capacity-idle-ws", idleShare, 1.0 / 3},
		{"ws bytes/session", "capacity-idle-ws", storePerSession, 500},
		{"poll round trips/s per 1000", "capacity-idle-xhr-polling", idleRTT, 80},
		{"poll cycles/s per 1000", "capacity-idle-xhr-polling", idleCycles, 40},
		{"echo Redis µs/msg", "xhr-polling-echo", redisCPUPerOp, 125},
	} {
		sys := "cluster"
		if got := tb.metric(c.sc, sys, c.f).Med; math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.what, got, c.want)
		}
	}
	if got := heldCapacity(tb, "capacity-idle-ws"); got != "150,000" {
		t.Errorf("ws capacity = %q", got)
	}
	// No clock tick in 25 s: below 0.04% of a core per 1000 sessions.
	if got := heldCapacity(tb, "capacity-idle-xhr-polling"); got != "> 1,250,000" {
		t.Errorf("polling capacity = %q", got)
	}
	if got := msgCapacity(tb, "xhr-polling-echo"); got != "8,000" {
		t.Errorf("echo capacity = %q", got)
	}
	// Single-node runs have no Redis.
	if v := redisCPUPerOp(doc.Runs[0]); !math.IsNaN(v) {
		t.Errorf("single node Redis µs/op = %v", v)
	}
}

func TestCapacityTargets(t *testing.T) {
	doc := withCapacity()
	tgs := targets(doc, index(doc.Runs))
	for _, c := range []struct {
		prefix string
		met    bool
		why    string
	}{
		{"capacity-idle-ws: ≤ 5 Redis commands/s per 1000", false,
			"Per second per 1000 idle sessions Redis took 100 round trips carrying 200 commands: `evalsha` 100, `hset` 66.7, `pexpire` 33.3 (commands inside Lua scripts included). That is 2.50 round trips and 5.00 commands per heartbeat received (40.0 per second per 1000 sessions)."},
		{"capacity-idle-xhr-polling: ≤ 80 Redis round trips/s", true, ""},
		{"capacity-idle-ws: ≤ 600 B", true, ""},
		{"capacity-idle-xhr-polling: ≤ 600 B", false, "Redis's used_memory grew by 1.34 MB for 2000 sessions (all rounds): 700 B per session."},
		{"xhr-polling-echo: ≤ 25 µs of Redis CPU", false, "redis-server was 25% busy over the window."},
	} {
		tg := findTarget(t, tgs, c.prefix)
		if tg.met != c.met || !tg.known {
			t.Errorf("%s: met=%v known=%v (%s)", c.prefix, tg.met, tg.known, tg.measured)
		}
		if !strings.Contains(tg.why, c.why) {
			t.Errorf("%s: why = %q, want it to contain %q", c.prefix, tg.why, c.why)
		}
	}
	tg := findTarget(t, tgs, "capacity-idle-xhr-polling: ≤ 80")
	if want := "80.0 round trips/s (80.0–80.0); 240 commands/s and 40.0 poll cycles/s per 1000 sessions"; tg.measured != want {
		t.Errorf("polling measured = %q, want %q", tg.measured, want)
	}
}

func TestCapacityReport(t *testing.T) {
	dir := t.TempDir()
	doc := withCapacity()
	if err := writeReport(dir, doc); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"## Capacity: one route on one Redis core\n",
		"| websocket (`capacity-idle-ws`) | 3000 × 30.0 s | 40.0 | 200 | 100 | 1.00% | 0.333% | 500 | 150,000 | ≤ 5 Redis commands/s per 1000 idle websocket sessions: **missed**; ≤ 600 B of Redis memory per idle session: met |",
		"| xhr-polling (`capacity-idle-xhr-polling`) | 1000 × 25.0 s | 40.0 | 240 | 80.0 | 0.000% | 0.000% | 700 | > 1,250,000 | ≤ 80 Redis round trips/s per 1000 idle sessions: met; ≤ 600 B of Redis memory per idle session: **missed** |",
		"| xhr-polling (+ xhr_send) (`xhr-polling-echo`) | 40,000 | 125 | 3.00 | 3.00 | 25.0% | 8,000 | ≤ 25 µs of Redis CPU per message: **missed** |",
		"### idle websocket sessions held on the cluster: what they cost Redis (`capacity-idle-ws`)",
		"Redis commands per second per 1000 idle sessions, by command (`INFO commandstats` deltas over the window, all rounds; commands run inside Lua scripts count here too, beside their `evalsha`): `evalsha` 100, `hset` 66.7, `pexpire` 33.3.",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "chart.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(svg), "capacity-idle") {
		t.Error("the chart has a group for a cluster-only scenario")
	}

	block := readmeBlock(doc, "docs/bench")
	for _, want := range []string{
		"| idle websocket sessions | 200.0 commands/s and 100.0 round trips/s per 1000 sessions, 500 B each | 150,000 sessions at 50% busy | ≤ 5 Redis commands/s per 1000 idle websocket sessions: **missed**; ≤ 600 B of Redis memory per idle session: met |",
		"| xhr-polling (+ xhr_send) echo | 125 µs of Redis CPU and 3.00 commands per message | 8,000 msgs/s | ≤ 25 µs of Redis CPU per message: **missed** |",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("README block lacks %q:\n%s", want, block)
		}
	}
}

// TestClusterOnlyBlock: a run of the cluster alone has no comparison
// table, only the capacity one.
func TestClusterOnlyBlock(t *testing.T) {
	doc := withCapacity()
	doc.Meta.Systems = []string{"cluster"}
	var runs []Run
	for _, r := range doc.Runs {
		if r.System == "cluster" {
			runs = append(runs, r)
		}
	}
	doc.Runs = runs
	block := readmeBlock(doc, "docs/bench")
	if strings.Contains(block, "| scenario |") {
		t.Errorf("empty comparison table:\n%s", block)
	}
	if !strings.Contains(block, "Only the cluster was measured; cells show the median of 2 rounds.") || strings.Contains(block, "sockjs-go") {
		t.Errorf("legend for a comparison:\n%s", block)
	}
	if !strings.Contains(block, "| load | Redis cost | one Redis core carries | targets |") {
		t.Errorf("no capacity table:\n%s", block)
	}
}

func TestScenarioSelection(t *testing.T) {
	got := expandGroups("idle-ws,capacity")
	want := "idle-ws,capacity-idle-ws,capacity-idle-xhr-streaming,capacity-idle-xhr-polling,ws-echo,xhr-streaming-echo,xhr-polling-echo"
	if got != want {
		t.Errorf("expandGroups = %q, want %q", got, want)
	}
	if _, err := pick(allScenarios, got, func(s scenario) string { return s.Name }); err != nil {
		t.Error(err)
	}
	cluster, ours, raw := allSystems[4], allSystems[0], allSystems[3]
	for _, c := range []struct {
		sc   string
		sys  system
		runs bool
	}{
		{"capacity-idle-ws", cluster, true},
		{"capacity-idle-ws", ours, false},
		{"capacity-idle-xhr-polling", raw, false},
		{"capacity-idle-xhr-polling", cluster, true},
		{"ws-echo", cluster, true},
		{"ws-echo", ours, true},
		{"idle-ws", cluster, false},
		{"xhr-polling-echo", raw, false},
	} {
		if got := runsOn(scenarioOf(c.sc), c.sys); got != c.runs {
			t.Errorf("runsOn(%s, %s) = %v", c.sc, c.sys.name, got)
		}
	}
}
