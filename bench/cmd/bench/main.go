// Command bench runs the side-by-side benchmark of sockjs-cluster
// (examples/testserver), sockjs-go v3, sockjs-node 0.3 and a raw
// gorilla/websocket server, and writes a markdown report and an SVG chart
// generated from its own measurements, and the summary in the repository's
// README.md between <!-- bench:begin ... --> and <!-- bench:end --> (-readme).
//
// Use bench/run.sh, which builds the servers, raises the file-descriptor
// limit and pins this program to the load generator's CPU:
//
//	bench/run.sh -quick          # 1 round, small counts, about 4 minutes
//	bench/run.sh                 # 3 rounds, the full counts
//	bench/run.sh -profile        # CPU and allocation profiles of our server
//
// Each measurement starts a fresh server pinned to -server-cpu; systems
// alternate within each scenario (A B C D A B C D ...), round after round.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sockjs-cluster/sockjs/bench/load"
)

// mode is a set of counts.
type mode struct {
	Name    string
	Rounds  int
	Load    load.Config
	Settle  time.Duration // idle: wait before reading RSS
	Pause   time.Duration // between measurements
	Timeout time.Duration // longest one measurement may take
}

var (
	fullMode = mode{
		Name: "full", Rounds: 3, Settle: 3 * time.Second, Pause: time.Second, Timeout: 120 * time.Second,
		Load: load.Config{
			Sessions: 100, Duration: 8 * time.Second, MaxPerSession: 1_000_000,
			Receivers: 1000, Messages: 500, Idle: 5000,
			Hold: 3000, HoldOpen: 25 * time.Second, HoldWindow: 30 * time.Second,
			Concurrency: 50, Wait: 10 * time.Second, Timeout: 60 * time.Second,
		},
	}
	quickMode = mode{
		Name: "quick", Rounds: 1, Settle: time.Second, Pause: 200 * time.Millisecond, Timeout: 40 * time.Second,
		Load: load.Config{
			Sessions: 20, Duration: 2 * time.Second, MaxPerSession: 1_000_000,
			Receivers: 200, Messages: 200, Idle: 500,
			Hold: 300, HoldOpen: 25 * time.Second, HoldWindow: 8 * time.Second,
			Concurrency: 50, Wait: 5 * time.Second, Timeout: 20 * time.Second,
		},
	}
)

// A scenario is one measured workload.
type scenario struct {
	Name        string
	Title       string
	Unit        string // of throughput
	Op          string // what one operation is
	HTTP        bool   // needs the HTTP transports
	Cluster     bool   // also runs on the cluster
	ClusterOnly bool   // runs on the cluster only
	Hold        load.Kind
	run         func(ctx context.Context, t load.Target, c load.Config, m mode, p load.Probe) load.Result
}

// capacity is true for the scenarios that hold idle sessions to measure
// what they cost Redis.
func (sc scenario) capacity() bool { return sc.Hold != "" }

// holdScenario holds idle sessions of one kind on the cluster.
func holdScenario(name, title string, kind load.Kind) scenario {
	return scenario{Name: name, Title: title, Unit: "sessions", Op: "held session", HTTP: kind != load.HoldWS,
		Cluster: true, ClusterOnly: true, Hold: kind,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.Hold(ctx, t, "echo", kind, c, p)
		}}
}

// scenarioGroups are names -scenarios expands to several scenarios.
var scenarioGroups = map[string][]string{
	// What one route costs Redis: idle sessions of each kind, and the
	// cluster's echo per transport (run it with -systems cluster).
	"capacity": {"capacity-idle-ws", "capacity-idle-xhr-streaming", "capacity-idle-xhr-polling", "ws-echo", "xhr-streaming-echo", "xhr-polling-echo"},
}

// expandGroups replaces each group name of a comma-separated list by its
// scenarios.
func expandGroups(list string) string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if g, ok := scenarioGroups[strings.TrimSpace(n)]; ok {
			out = append(out, g...)
		} else {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// runsOn says whether scenario sc is measured on sys.
func runsOn(sc scenario, sys system) bool {
	switch {
	case sc.HTTP && !sys.http:
		return false
	case sys.nodes > 1:
		return sc.Cluster
	default:
		return !sc.ClusterOnly
	}
}

var allScenarios = []scenario{
	{Name: "ws-echo", Title: "websocket echo", Unit: "msgs/s", Op: "round trip", Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.WSEcho(ctx, t, "echo", c, p)
		}},
	{Name: "xhr-streaming-echo", Title: "xhr-streaming echo (+ sequential xhr_send)", Unit: "msgs/s", Op: "round trip", HTTP: true, Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.XHREcho(ctx, t, "echo", false, c, p)
		}},
	{Name: "xhr-polling-echo", Title: "xhr-polling echo (+ sequential xhr_send)", Unit: "msgs/s", Op: "round trip", HTTP: true, Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.XHREcho(ctx, t, "echo", true, c, p)
		}},
	{Name: "broadcast-ws", Title: "broadcast to websocket receivers, sent back to back", Unit: "deliveries/s", Op: "delivery", Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.Broadcast(ctx, t, "broadcast", false, false, c, p)
		}},
	{Name: "broadcast-ws-paced", Title: "broadcast to websocket receivers, one message at a time", Unit: "deliveries/s", Op: "delivery", Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.Broadcast(ctx, t, "broadcast", false, true, c, p)
		}},
	{Name: "broadcast-xhr-streaming", Title: "broadcast to xhr-streaming receivers, sent back to back", Unit: "deliveries/s", Op: "delivery", HTTP: true, Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.Broadcast(ctx, t, "broadcast", true, false, c, p)
		}},
	{Name: "broadcast-xhr-streaming-paced", Title: "broadcast to xhr-streaming receivers, one message at a time", Unit: "deliveries/s", Op: "delivery", HTTP: true, Cluster: true,
		run: func(ctx context.Context, t load.Target, c load.Config, _ mode, p load.Probe) load.Result {
			return load.Broadcast(ctx, t, "broadcast", true, true, c, p)
		}},
	{Name: "idle-ws", Title: "idle websocket sessions", Unit: "connects/s", Op: "connect",
		run: func(ctx context.Context, t load.Target, c load.Config, m mode, p load.Probe) load.Result {
			return load.Idle(ctx, t, "echo", c, m.Settle, p)
		}},
	holdScenario("capacity-idle-ws", "idle websocket sessions held on the cluster: what they cost Redis", load.HoldWS),
	holdScenario("capacity-idle-xhr-streaming", "idle xhr-streaming sessions held on the cluster: what they cost Redis", load.HoldStreaming),
	holdScenario("capacity-idle-xhr-polling", "idle xhr-polling sessions (the poll cycle) held on the cluster: what they cost Redis", load.HoldPolling),
}

// Run is one measurement: one system, one scenario, one round.
type Run struct {
	Round     int
	Scenario  string
	System    string
	Start     time.Time
	LoadAvg   string // at the start
	Result    load.Result
	CPU       float64            // server CPU seconds in the window (all its processes)
	ProcCPU   map[string]float64 `json:",omitempty"` // the same by process, for systems of several
	ClientCPU float64            // load generator CPU seconds in the window
	Wall      float64            // the probe's window, seconds
	RSS       int64              // servers' resident bytes after the window
	Redis     map[string]int64   `json:",omitempty"` // commandstats calls in the window (Lua scripts' commands included)
	RedisRTT  int64              `json:",omitempty"` // requests the nodes sent to Redis in the window (ss data segments)
	Notes     []string           `json:",omitempty"`
	Err       string             `json:",omitempty"` // the system did not start
}

// Meta describes the machine and the invocation.
type Meta struct {
	Date       time.Time
	Finished   time.Time
	Command    string
	Mode       mode
	CPUModel   string
	Cores      int
	MemTotal   string
	Kernel     string
	Go         string
	Node       string
	Redis      string
	Peers      map[string]string
	ServerCPU  string
	ClientCPU  string
	FDLimit    string
	LoadBefore string
	LoadAfter  string
	Systems    []string
	Scenarios  []string
	Source     string `json:",omitempty"` // the tree examples/testserver was built from, and its commit
}

func main() {
	quick := flag.Bool("quick", false, "1 round with small counts (about 4 minutes)")
	rounds := flag.Int("rounds", 0, "rounds (default: 3, or 1 with -quick)")
	systems := flag.String("systems", "ours,sockjsgo,sockjsnode,raw,cluster", "systems, in the order they alternate")
	scenarios := flag.String("scenarios", "", "comma-separated scenarios (default: all)")
	out := flag.String("out", "../docs/bench", "where the report, chart and results.json go")
	results := flag.String("results", "results", "logs, raw results and profiles (not committed)")
	binDir := flag.String("bin", "results/bin", "built servers")
	serverCPU := flag.String("server-cpu", "0", "CPU list the servers are pinned to (taskset)")
	clientCPU := flag.String("client-cpu", "1", "CPU list this load generator is pinned to (informational; run.sh pins it)")
	cmdline := flag.String("cmdline", "", "the command to print in the report (run.sh sets it)")
	reportOnly := flag.String("report", "", "only regenerate the report from this results.json")
	profile := flag.Bool("profile", false, "profile our server under websocket echo, xhr polling and broadcast instead")
	profileSecs := flag.Int("profile-seconds", 15, "length of each profile")
	src := flag.String("src", "", "the source tree examples/testserver was built from, for the report (run.sh -src DIR builds from DIR and sets it)")
	readmeFlag := flag.String("readme", "", "the README.md whose block between <!-- bench:begin ... --> and <!-- bench:end --> is regenerated (default: -out/../../README.md, the repository's README for -out docs/bench); - for none")
	flag.Parse()
	log.SetFlags(log.Ltime)
	readme := ""
	if *readmeFlag != "-" {
		readme = readmePath(*readmeFlag, *out)
	}

	if *reportOnly != "" {
		var doc resultsDoc
		b, err := os.ReadFile(*reportOnly)
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil {
			log.Fatal(err)
		}
		if readme != "" {
			if err := checkReadme(readme); err != nil {
				log.Fatal(err)
			}
		}
		if err := writeReport(*out, doc); err != nil {
			log.Fatal(err)
		}
		if readme != "" {
			if err := writeReadme(readme, *out, doc); err != nil {
				log.Fatal(err)
			}
		}
		return
	}

	m := fullMode
	if *quick {
		m = quickMode
	}
	if *rounds > 0 {
		m.Rounds = *rounds
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	for _, d := range []string{*results, filepath.Join(*results, "logs"), *out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	e := &env{
		binDir:    *binDir,
		nodePeer:  "peers/sockjsnode",
		logDir:    filepath.Join(*results, "logs"),
		serverCPU: *serverCPU,
		redisBin:  "redis-server",
	}
	if *profile {
		if err := runProfiles(ctx, e, m, *results, *out, time.Duration(*profileSecs)*time.Second, *scenarios); err != nil {
			log.Fatal(err)
		}
		return
	}

	// Fail now rather than after the run if the README cannot take the block.
	if readme != "" {
		if err := checkReadme(readme); err != nil {
			log.Fatal(err)
		}
	}
	sysList, err := pick(allSystems, *systems, func(s system) string { return s.name })
	if err != nil {
		log.Fatal(err)
	}
	scList := allScenarios
	if *scenarios != "" {
		if scList, err = pick(allScenarios, expandGroups(*scenarios), func(s scenario) string { return s.Name }); err != nil {
			log.Fatal(err)
		}
	}
	for _, sc := range scList {
		if !slices.ContainsFunc(sysList, func(s system) bool { return runsOn(sc, s) }) {
			log.Printf("warning: %s runs on none of the systems chosen (cluster-only scenarios need -systems cluster)", sc.Name)
		}
	}
	if *cmdline == "" {
		*cmdline = strings.Join(os.Args, " ")
	}
	meta := machine()
	meta.Command = *cmdline
	meta.Mode = m
	meta.ServerCPU, meta.ClientCPU = *serverCPU, *clientCPU
	meta.LoadBefore = loadAvg()
	if *src != "" {
		meta.Source = sourceTree(*src)
	}
	for _, s := range sysList {
		meta.Systems = append(meta.Systems, s.name)
	}
	for _, s := range scList {
		meta.Scenarios = append(meta.Scenarios, s.Name)
	}

	var runs []Run
	save := func() {
		doc := resultsDoc{Meta: meta, Runs: runs}
		b, _ := json.MarshalIndent(doc, "", "  ")
		_ = os.WriteFile(filepath.Join(*results, "results.json"), b, 0o644)
	}
	for round := 1; round <= m.Rounds && ctx.Err() == nil; round++ {
		for _, sc := range scList {
			for _, sys := range sysList {
				if ctx.Err() != nil {
					break
				}
				if !runsOn(sc, sys) {
					continue
				}
				r := measure(ctx, e, m, sc, sys, round)
				runs = append(runs, r)
				log.Printf("round %d %-24s %-10s %s", round, sc.Name, sys.name, summary(sc, r))
				save()
				time.Sleep(m.Pause)
			}
		}
	}
	if ctx.Err() != nil {
		log.Fatal("interrupted; partial results in ", filepath.Join(*results, "results.json"))
	}
	meta.Finished = time.Now()
	meta.LoadAfter = loadAvg()
	doc := resultsDoc{Meta: meta, Runs: runs}
	save()
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "results.json"), b, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := writeReport(*out, doc); err != nil {
		log.Fatal(err)
	}
	log.Printf("report: %s", filepath.Join(*out, "README.md"))
	if readme != "" {
		if err := writeReadme(readme, *out, doc); err != nil {
			log.Fatal(err)
		}
		log.Printf("summary: %s", readme)
	}
}

// measure starts sys, runs sc against it once and stops it.
func measure(ctx context.Context, e *env, m mode, sc scenario, sys system, round int) Run {
	r := Run{Round: round, Scenario: sc.Name, System: sys.name, Start: time.Now(), LoadAvg: loadAvg()}
	tag := fmt.Sprintf("r%d-%s-%s", round, sc.Name, sys.name)
	rs, err := e.start(ctx, sys, tag)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer rs.stop()
	p := &probe{sys: rs}
	timeout := m.Timeout
	if sc.capacity() {
		timeout = max(timeout, m.Load.HoldOpen+m.Load.HoldWindow+2*m.Load.Wait)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.Result = sc.run(rctx, rs.target, m.Load, m, p)
	r.RSS = p.RSS()
	r.CPU, r.ClientCPU, r.Wall = p.cpu, p.clientCPU, p.wall.Seconds()
	r.Redis = p.redisCmds
	if len(rs.procs) > 1 {
		r.ProcCPU = p.procCPU
	}
	r.RedisRTT = p.redisRTT
	r.Notes = p.notes
	for _, pr := range rs.procs {
		select {
		case <-pr.done:
			r.Notes = append(r.Notes, pr.name+" exited during the run")
		default:
		}
	}
	return r
}

func summary(sc scenario, r Run) string {
	if r.Err != "" {
		return "ERROR " + r.Err
	}
	res := r.Result
	if sc.capacity() {
		return holdSummary(r)
	}
	s := fmt.Sprintf("%10.0f %s  cpu/op %7.1fµs  client %3.0f%%  rss %5.1fMB  load %s",
		throughput(r), sc.Unit, cpuPerOp(r), 100*r.ClientCPU/max(r.Wall, 1e-9), float64(r.RSS)/(1<<20), r.LoadAvg)
	if res.P50 > 0 {
		s += fmt.Sprintf("  p50 %.2fms p99 %.2fms", res.P50, res.P99)
	}
	if res.RSSPer > 0 {
		s += fmt.Sprintf("  %.1fKB/session", res.RSSPer/1024)
	}
	if n := redisCalls(r); n > 0 {
		s += fmt.Sprintf("  redis %.2f round trips/op, %.2f commands/op", rttPerOp(r), float64(n)/float64(max(res.Ops, 1)))
	}
	if res.Lost+res.Dup+res.Reordered+res.Code2010+res.Errors > 0 {
		s += fmt.Sprintf("  LOST %d DUP %d REORDERED %d 2010s %d ERRORS %d (%s)", res.Lost, res.Dup, res.Reordered, res.Code2010, res.Errors, res.FirstErr)
	}
	return s
}

// holdSummary is the log line of a capacity run.
func holdSummary(r Run) string {
	res := r.Result
	s := fmt.Sprintf("%d of %d sessions held %.1fs: per 1000 sessions per second %.1f Redis commands, %.1f round trips, %.1f heartbeats; Redis CPU %.2f%% of a core, %.0f B/session  load %s",
		res.Ops, res.Sent, r.Wall, idleCommands(r), idleRTT(r), idleCycles(r), redisShare(r), res.StorePer, r.LoadAvg)
	if res.Lost+res.Code2010+res.Errors > 0 {
		s += fmt.Sprintf("  LOST %d 2010s %d ERRORS %d (%s)", res.Lost, res.Code2010, res.Errors, res.FirstErr)
	}
	return s
}

// sourceTree describes dir and its git commit.
func sourceTree(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	commit := commandVersion("git", "-C", dir, "log", "-1", "--format=%h %s")
	if commit == "?" {
		return dir
	}
	if r := []rune(commit); len(r) > 80 {
		commit = string(r[:79]) + "…"
	}
	s := dir + " at " + commit
	if st := commandVersion("git", "-C", dir, "status", "--porcelain", "--untracked-files=no"); st != "" && st != "?" {
		s += " (with uncommitted changes)"
	}
	return s
}

// pick returns the items named in the comma-separated list, in its order.
func pick[T any](all []T, list string, name func(T) string) ([]T, error) {
	var out []T
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(t T) bool { return name(t) == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown %q", n)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// machine describes this machine.
func machine() Meta {
	m := Meta{Date: time.Now(), Peers: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				m.Cores++
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		m.MemTotal = strings.Join(strings.Fields(line)[1:], " ")
	}
	m.Kernel = commandVersion("uname", "-sr")
	m.Go = commandVersion("go", "version")
	m.Node = commandVersion("node", "--version")
	m.Redis = commandVersion("redis-server", "--version")
	m.FDLimit = commandVersion("sh", "-c", "ulimit -n")
	if v := commandVersion("getconf", "CLK_TCK"); v != "?" {
		var hz float64
		if _, err := fmt.Sscan(v, &hz); err == nil && hz > 0 {
			clockTicks = hz
		}
	}
	m.Peers["sockjs-go"] = moduleVersion("github.com/igm/sockjs-go/v3")
	m.Peers["gorilla/websocket"] = moduleVersion("github.com/gorilla/websocket")
	m.Peers["sockjs-node"] = npmVersion("peers/sockjsnode/node_modules/sockjs/package.json")
	return m
}

func moduleVersion(path string) string {
	return strings.TrimPrefix(commandVersion("go", "list", "-m", "-f", "{{.Version}}", path), "v")
}

func npmVersion(file string) string {
	var p struct{ Version string }
	b, err := os.ReadFile(file)
	if err != nil || json.Unmarshal(b, &p) != nil {
		return "?"
	}
	return p.Version
}
