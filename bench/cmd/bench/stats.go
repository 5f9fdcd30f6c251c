package main

import (
	"math"
	"slices"
)

// resultsDoc is results.json: everything the report is made from.
type resultsDoc struct {
	Meta Meta
	Runs []Run
}

func throughput(r Run) float64 {
	if r.Result.Elapsed <= 0 {
		return 0
	}
	return float64(r.Result.Ops) / r.Result.Elapsed.Seconds()
}

// cpuPerOp is server CPU microseconds per operation.
func cpuPerOp(r Run) float64 {
	if r.Result.Ops == 0 {
		return math.NaN()
	}
	return r.CPU * 1e6 / float64(r.Result.Ops)
}

func redisCalls(r Run) int64 {
	var n int64
	for _, v := range r.Redis {
		n += v
	}
	return n
}

func rttPerOp(r Run) float64 {
	if r.Result.Ops == 0 || r.Redis == nil {
		return math.NaN()
	}
	return float64(r.RedisRTT) / float64(r.Result.Ops)
}

func redisPerOp(r Run) float64 {
	if r.Result.Ops == 0 {
		return math.NaN()
	}
	return float64(redisCalls(r)) / float64(r.Result.Ops)
}

// spread is a median with its min and max.
type spread struct {
	Med, Min, Max float64
	N             int
}

func spreadOf(xs []float64) spread {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return spread{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return spread{Med: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// table indexes runs by scenario, system and round.
type table map[string]map[string]map[int]Run

func index(runs []Run) table {
	t := table{}
	for _, r := range runs {
		if t[r.Scenario] == nil {
			t[r.Scenario] = map[string]map[int]Run{}
		}
		if t[r.Scenario][r.System] == nil {
			t[r.Scenario][r.System] = map[int]Run{}
		}
		t[r.Scenario][r.System][r.Round] = r
	}
	return t
}

// metric is the spread of f over the rounds of one system in one scenario.
func (t table) metric(sc, sys string, f func(Run) float64) spread {
	var xs []float64
	for _, r := range t[sc][sys] {
		if r.Err == "" {
			xs = append(xs, f(r))
		}
	}
	return spreadOf(xs)
}

// ratio is the spread over rounds of f(sys)/f(ref), both measured in the
// same round.
func (t table) ratio(sc, sys, ref string, f func(Run) float64) spread {
	var xs []float64
	for round, r := range t[sc][sys] {
		b, ok := t[sc][ref][round]
		if !ok || r.Err != "" || b.Err != "" {
			continue
		}
		xs = append(xs, f(r)/f(b))
	}
	return spreadOf(xs)
}

// The cluster's Redis, per message and per idle session.

// redisCPU is the redis-server process's CPU seconds in the window, and
// whether the run had one.
func redisCPU(r Run) (float64, bool) {
	v, ok := r.ProcCPU["redis-server"]
	return v, ok
}

// redisCPUPerOp is Redis CPU microseconds per operation.
func redisCPUPerOp(r Run) float64 {
	v, ok := redisCPU(r)
	if !ok || r.Result.Ops == 0 {
		return math.NaN()
	}
	return v * 1e6 / float64(r.Result.Ops)
}

// redisShare is Redis's CPU over the window, in % of one core.
func redisShare(r Run) float64 {
	v, ok := redisCPU(r)
	if !ok || r.Wall <= 0 {
		return math.NaN()
	}
	return 100 * v / r.Wall
}

// perThousand is n per second per 1000 held sessions (Ops) over the
// window.
func perThousand(r Run, n float64) float64 {
	if r.Result.Ops == 0 || r.Wall <= 0 {
		return math.NaN()
	}
	return n / r.Wall * 1000 / float64(r.Result.Ops)
}

// idleCommands is Redis commands per second per 1000 idle sessions.
func idleCommands(r Run) float64 {
	if r.Redis == nil {
		return math.NaN()
	}
	return perThousand(r, float64(redisCalls(r)))
}

// idleRTT is Redis round trips (store calls) per second per 1000 idle
// sessions.
func idleRTT(r Run) float64 {
	if r.Redis == nil {
		return math.NaN()
	}
	return perThousand(r, float64(r.RedisRTT))
}

// idleCycles is heartbeats (xhr polling: poll cycles) per second per 1000
// idle sessions.
func idleCycles(r Run) float64 { return perThousand(r, float64(r.Result.Cycles)) }

// idleShare is Redis CPU in % of one core per 1000 idle sessions.
func idleShare(r Run) float64 {
	s := redisShare(r)
	if r.Result.Ops == 0 {
		return math.NaN()
	}
	return s * 1000 / float64(r.Result.Ops)
}

// storePerSession is Redis bytes per idle session.
func storePerSession(r Run) float64 {
	if r.Redis == nil || r.Result.Ops == 0 {
		return math.NaN()
	}
	return r.Result.StorePer
}

// halfCore is the share of one Redis core the capacity of idle sessions
// is given at: Redis half busy.
const halfCore = 50.0

// sessionsAt is how many idle sessions keep Redis at pct % of one core,
// from share, the % of a core per 1000 sessions (0: unbounded as far as
// this measurement can tell).
func sessionsAt(pct, share float64) float64 {
	if math.IsNaN(share) || share < 0 {
		return math.NaN()
	}
	if share == 0 {
		return math.Inf(1)
	}
	return pct / share * 1000
}

// perCore is how many operations per second one Redis core carries at
// µs of Redis CPU each.
func perCore(us float64) float64 {
	if math.IsNaN(us) || us < 0 {
		return math.NaN()
	}
	if us == 0 {
		return math.Inf(1)
	}
	return 1e6 / us
}
