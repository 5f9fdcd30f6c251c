package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockjs-cluster/sockjs/bench/load"
)

// synthetic is a two-round xhr-polling-echo run of our server, sockjs-go
// and the cluster, with round numbers chosen so the figures are easy to
// check by hand.
func synthetic() resultsDoc {
	const sc = "xhr-polling-echo"
	run := func(round int, sys string, ops int64, cpu, client float64, loadAvg string) Run {
		return Run{Round: round, Scenario: sc, System: sys, LoadAvg: loadAvg,
			Result: load.Result{Ops: ops, Elapsed: 10 * time.Second},
			CPU:    cpu, ClientCPU: client, Wall: 10}
	}
	var runs []Run
	for round, la := range map[int]string{1: "1.00 1.00 1.00", 2: "4.50 2.00 1.00"} {
		runs = append(runs,
			// 10000 msgs/s at 10 µs/op; the load generator 95% busy.
			run(round, "ours", 100000, 1.0, 9.5, la),
			// 10000 msgs/s at 20 µs/op.
			run(round, "sockjsgo", 100000, 2.0, 9.0, la))
		c := run(round, "cluster", 20000, 10.0, 3.0, la)
		c.ProcCPU = map[string]float64{"cluster-0": 2.5, "cluster-1": 2.5, "cluster-2": 2.5, "redis-server": 2.5}
		c.Redis = map[string]int64{"pttl": 40000, "get": 20000}
		c.RedisRTT = 60000
		runs = append(runs, c)
	}
	return resultsDoc{
		Meta: Meta{Cores: 2, Systems: []string{"ours", "sockjsgo", "cluster"}, Scenarios: []string{sc}},
		Runs: runs,
	}
}

func findTarget(t *testing.T, tgs []target, prefix string) target {
	t.Helper()
	for _, tg := range tgs {
		if strings.HasPrefix(tg.what, prefix) {
			return tg
		}
	}
	t.Fatalf("no target %q", prefix)
	return target{}
}

func TestWhy(t *testing.T) {
	doc := synthetic()
	tgs := targets(doc, index(doc.Runs))

	// 0.5× sockjs-go's CPU per message: met, and so nothing to explain.
	if tg := findTarget(t, tgs, "xhr-polling-echo: server CPU/op"); !tg.met || tg.why != "" {
		t.Errorf("met target: met=%v why=%q", tg.met, tg.why)
	}

	cases := []struct{ target, want string }{
		// Throughput 1.0×, the load generator saturated.
		{"xhr-polling-echo: throughput", "The load generator's core was 95% busy in the runs of sockjs-cluster and 90% in those of sockjs-go: throughput is bounded by the load generator, and server CPU per message (0.500× sockjs-go) is the figure to compare."},
		// Cluster 0.2× one node: the shared CPU and the Redis commands.
		{"xhr-polling-echo: cluster throughput", "The 3 nodes and redis-server share the one server CPU (100% busy; redis-server 25% of it, the nodes 75%), and the cluster spent 50.0× a single node's CPU per message (500 µs against 10.0 µs)."},
		{"xhr-polling-echo: cluster throughput", "Each message took 3.00 Redis round trips carrying 3.00 commands: `pttl` 2.00, `get` 1.00"},
		{"xhr-polling-echo: Redis round trips", "Each message took 3.00 Redis round trips"},
	}
	for _, c := range cases {
		tg := findTarget(t, tgs, c.target)
		if tg.met {
			t.Errorf("%s: met, want missed", c.target)
		}
		if !strings.Contains(tg.why, c.want) {
			t.Errorf("%s: why = %q, want it to contain %q", c.target, tg.why, c.want)
		}
	}
}

func TestWhyNoisyRounds(t *testing.T) {
	doc := synthetic()
	// Our server costs 24 µs per message in round 2: 0.5× then 1.2×
	// sockjs-go, 0.85× over the rounds.
	for i, r := range doc.Runs {
		if r.Round == 2 && r.System == "ours" {
			doc.Runs[i].CPU = 2.4
		}
	}
	tg := findTarget(t, targets(doc, index(doc.Runs)), "xhr-polling-echo: server CPU/op")
	if tg.met {
		t.Fatalf("met at %s", tg.measured)
	}
	want := "The rounds disagree: 0.500×, 1.20× (met in 1 of 2), with the load average at 1.00–4.50 on 2 cores when the runs started: other work shared the machine."
	if !strings.Contains(tg.why, want) {
		t.Errorf("why = %q, want it to contain %q", tg.why, want)
	}
}

func TestReportWhyColumn(t *testing.T) {
	dir := t.TempDir()
	if err := writeReport(dir, synthetic()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"| target | measured (median over rounds, min–max) | | why |",
		"| xhr-polling-echo: server CPU/op ≤ 0.75× sockjs-go | 0.500× (0.500–0.500) | met |  |",
		"| xhr-polling-echo: throughput ≥ 1.3× sockjs-go | 1.00× (1.00–1.00) | **missed** | The load generator's core was 95% busy",
		"[optimisations.md](optimisations.md)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "chart.svg")); err != nil {
		t.Error(err)
	}
}
