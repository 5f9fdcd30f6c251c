package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux the benchmark runs on (checked against getconf).
var clockTicks = 100.0

// cpuTicks returns utime+stime of pid (all its threads), in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: bad utime/stime")
	}
	return u + s, nil
}

// statusKB returns a "Vm...:" field of /proc/<pid>/status in bytes.
func statusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// probe implements load.Probe over the processes of one system.
type probe struct {
	sys      *running
	ticks    int64            // at Start, servers
	perTicks map[string]int64 // at Start, each server process
	procCPU  map[string]float64
	self     int64 // at Start, this process
	redis    map[string]int64
	t0       time.Time

	cpu       float64 // server CPU seconds in the window
	clientCPU float64 // load generator CPU seconds in the window
	wall      time.Duration
	redisCmds map[string]int64 // commandstats calls in the window
	redisRTT  int64            // requests the servers sent to Redis in the window
	rtt0      int64
	notes     []string
}

// serverTicks returns the CPU ticks of every server process, and their sum.
func (p *probe) serverTicks() (map[string]int64, int64) {
	per := map[string]int64{}
	var n int64
	for _, pr := range p.sys.procs {
		t, err := cpuTicks(pr.pid)
		if err != nil {
			p.Note(fmt.Sprintf("%s: %v", pr.name, err))
		}
		per[pr.name] = t
		n += t
	}
	return per, n
}

func (p *probe) Start() {
	if p.sys.redisAddr != "" {
		p.rtt0 = redisRequests(p.sys.redisAddr)
		p.redis = redisCommandStats(p.sys.redisAddr)
	}
	p.self, _ = cpuTicks(os.Getpid())
	p.perTicks, p.ticks = p.serverTicks()
	p.t0 = time.Now()
}

func (p *probe) Stop() {
	p.wall = time.Since(p.t0)
	per, n := p.serverTicks()
	p.cpu = float64(n-p.ticks) / clockTicks
	p.procCPU = map[string]float64{}
	for k, v := range per {
		p.procCPU[k] = float64(v-p.perTicks[k]) / clockTicks
	}
	self, _ := cpuTicks(os.Getpid())
	p.clientCPU = float64(self-p.self) / clockTicks
	if p.sys.redisAddr != "" {
		p.redisRTT = redisRequests(p.sys.redisAddr) - p.rtt0
		after := redisCommandStats(p.sys.redisAddr)
		p.redisCmds = map[string]int64{}
		for k, v := range after {
			if d := v - p.redis[k]; d > 0 && k != "info" {
				p.redisCmds[k] = d
			}
		}
	}
}

// RSS is the servers' resident memory now.
func (p *probe) RSS() int64 {
	var n int64
	for _, pr := range p.sys.procs {
		n += statusKB(pr.pid, "VmRSS")
	}
	return n
}

func (p *probe) Note(s string) { p.notes = append(p.notes, s) }

// StoreMemory is Redis's used_memory (INFO memory), 0 without Redis.
func (p *probe) StoreMemory() int64 {
	if p.sys.redisAddr == "" {
		return 0
	}
	body := redisInfo(p.sys.redisAddr, "memory")
	n, ok := infoInt(body, "used_memory")
	if !ok {
		p.Note("could not read Redis used_memory")
	}
	return n
}

// redisInfo returns the text of INFO section from the Redis at addr, ""
// on error. It speaks RESP by hand: one command, one bulk reply.
func redisInfo(addr, section string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n", len(section), section); err != nil {
		return ""
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 {
		return ""
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return ""
	}
	return string(body)
}

// redisCommandStats returns INFO commandstats as command -> calls, nil on
// error.
func redisCommandStats(addr string) map[string]int64 {
	body := redisInfo(addr, "commandstats")
	if body == "" {
		return nil
	}
	return parseCommandStats(body)
}

// parseCommandStats reads the calls of each command from the text of INFO
// commandstats ("cmdstat_evalsha:calls=12,usec=...").
func parseCommandStats(body string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(body, "\r\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				out[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return out
}

// infoInt is the integer field key of an INFO text ("used_memory:123"),
// and whether it was there.
func infoInt(body, key string) (int64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), key+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// redisRequests counts the requests (round trips) clients have sent to the
// Redis at addr over their open connections: the data segments of every
// established socket to it (`ss -ti`, data_segs_out). Clients write each
// command, or each pipeline, with one write of far less than the loopback
// MSS, so one segment is one round trip; commands run inside a Lua script
// cost none. Connections closed meanwhile drop out of the sum.
func redisRequests(addr string) int64 {
	_, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("ss", "-tinH", "state", "established", "( dport = :"+port+" )").Output()
	if err != nil {
		return 0
	}
	var n int64
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "data_segs_out:"); ok {
			k, _ := strconv.ParseInt(v, 10, 64)
			n += k
		}
	}
	return n
}
