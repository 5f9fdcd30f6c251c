// Command hostile plays one hostile client against a running testserver
// (examples/testserver) and reports what it cost the server: the growth of
// the server process's resident memory and CPU time, and of Redis's
// used_memory when the server runs on Redis, at their peak during the
// attack. A legitimate websocket echo session runs alongside and reports
// how many of its echoes came back.
//
//	hostile -url http://127.0.0.1:8081 -pid PID [-redis 127.0.0.1:6379] -attack NAME [-duration 6s]
//
// Attacks (each bounded by -duration):
//
//	amplify        3 sessions without a receiver, each sent /amplify messages with 32 KiB answers
//	unread-stream  one xhr_streaming response never read, its session sent 32 KiB answers
//	broadcast      one websocket sending 64 KiB messages to /broadcast
//	slow-body      700 xhr_send bodies: half announce 1 MiB and stall, half trickle a byte a second
//	long-ids       300 sessions with 64 KiB ids
//	big-header     300 opening polls, each with a 256 KiB request header
//	header-48k     300 opening polls, each with 48 KiB of headers (under the
//	               examples' http.Server MaxHeaderBytes, so the route sees them)
//	fragments      one websocket message in endless empty fragments
//	redis-oom      an xhr_send echo while Redis is out of memory (needs -redis)
//
// The process's memory is read from /proc (Linux): this is a measuring
// tool, not a test.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8081", "the testserver's base URL")
	pid := flag.Int("pid", 0, "the testserver's process id (for its memory and CPU)")
	redisAddr := flag.String("redis", "", "the Redis the testserver uses, host:port (for used_memory)")
	attack := flag.String("attack", "", "the attack (see the command's doc)")
	duration := flag.Duration("duration", 6*time.Second, "how long the attack runs")
	flag.Parse()
	a, ok := attacks[*attack]
	if !ok || *pid <= 0 {
		fmt.Fprintln(os.Stderr, "hostile: -pid and a known -attack are required")
		os.Exit(2)
	}
	var rdb *redis.Client
	if *redisAddr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer rdb.Close()
	}
	r, err := run(*base, *pid, rdb, a, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	r.Attack = *attack
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// report is one attack's outcome, printed as one JSON line.
type report struct {
	Attack        string         `json:"attack"`
	Seconds       float64        `json:"seconds"`
	RSSPeakMiB    float64        `json:"rss_peak_growth_mib"`
	RSSEndMiB     float64        `json:"rss_end_growth_mib"`
	CPUSeconds    float64        `json:"server_cpu_s"`
	RedisPeakMiB  float64        `json:"redis_used_memory_peak_growth_mib,omitempty"`
	EchoOK        int            `json:"legit_echo_ok"`
	EchoFailed    int            `json:"legit_echo_failed"`
	Counts        map[string]int `json:"counts"`
	DurationNotes string         `json:"notes,omitempty"`
}

type env struct {
	base   string
	client *http.Client
	stop   <-chan struct{}
	counts sync.Map // string -> *atomic.Int64
	rdb    *redis.Client
	notes  string
}

func (e *env) count(name string, n int) {
	v, _ := e.counts.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(int64(n))
}

func (e *env) stopped() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

var attacks = map[string]func(e *env){
	"amplify":       attackAmplify,
	"unread-stream": attackUnreadStream,
	"broadcast":     attackBroadcast,
	"slow-body":     attackSlowBody,
	"long-ids":      attackLongIDs,
	"big-header":    func(e *env) { attackHeaders(e, 256<<10) },
	"header-48k":    func(e *env) { attackHeaders(e, 48<<10) },
	"fragments":     attackFragments,
	"redis-oom":     attackRedisOOM,
}

func run(base string, pid int, rdb *redis.Client, attack func(*env), d time.Duration) (*report, error) {
	ctx := context.Background()
	rss0, err := rssOf(pid)
	if err != nil {
		return nil, err
	}
	cpu0, err := cpuOf(pid)
	if err != nil {
		return nil, err
	}
	var mem0 int64
	if rdb != nil {
		if mem0, err = usedMemory(ctx, rdb); err != nil {
			return nil, err
		}
	}
	stop := make(chan struct{})
	e := &env{base: base, client: &http.Client{Timeout: 30 * time.Second}, stop: stop, rdb: rdb}

	var peakRSS, peakMem atomic.Int64
	sampled := make(chan struct{})
	go func() { // sample until the attack and its tail are over
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssOf(pid); err == nil && v > peakRSS.Load() {
				peakRSS.Store(v)
			}
			if rdb != nil {
				if v, err := usedMemory(ctx, rdb); err == nil && v > peakMem.Load() {
					peakMem.Store(v)
				}
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	echo := startEcho(base, stop)

	start := time.Now()
	done := make(chan struct{})
	go func() { attack(e); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
	close(stop)
	select { // the attack's goroutines end at stop
	case <-done:
	case <-time.After(15 * time.Second):
		e.notes += "attack goroutines still running 15 s after the stop; "
	}
	<-sampled
	ok, failed := echo()
	rssEnd, _ := rssOf(pid)
	cpu1, _ := cpuOf(pid)
	r := &report{
		Seconds:       time.Since(start).Seconds(),
		RSSPeakMiB:    mib(peakRSS.Load() - rss0),
		RSSEndMiB:     mib(rssEnd - rss0),
		CPUSeconds:    cpu1 - cpu0,
		EchoOK:        ok,
		EchoFailed:    failed,
		Counts:        map[string]int{},
		DurationNotes: e.notes,
	}
	if rdb != nil {
		r.RedisPeakMiB = mib(peakMem.Load() - mem0)
	}
	e.counts.Range(func(k, v any) bool {
		r.Counts[k.(string)] = int(v.(*atomic.Int64).Load())
		return true
	})
	return r, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// rssOf reads a process's resident set size in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuOf reads a process's user and system CPU time, in seconds.
func cpuOf(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO")
}

var idSeq atomic.Int64

func newID() string {
	return fmt.Sprintf("h%d-%d", time.Now().UnixNano()%1e9, idSeq.Add(1))
}

func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// startEcho runs a legitimate websocket echo session, one message every
// 100 ms, until stop; the returned func waits for it and tells how many
// echoes came back within a second and how many did not.
func startEcho(base string, stop <-chan struct{}) func() (ok, failed int) {
	var okN, failN int
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, _, err := websocket.DefaultDialer.Dial(wsURL(base, "/echo/000/"+newID()+"/websocket"), nil)
		if err != nil {
			failN++
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := c.ReadMessage(); err != nil || string(b) != "o" {
			failN++
			return
		}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			want := fmt.Sprintf("legit %d", i)
			msg, _ := json.Marshal([]string{want})
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				failN++
				return
			}
			got := false
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			for !got {
				_, b, err := c.ReadMessage()
				if err != nil {
					failN++
					return
				}
				got = bytes.Contains(b, []byte(want))
			}
			okN++
		}
	}()
	return func() (int, int) { <-done; return okN, failN }
}

// open opens an HTTP session with an xhr poll and returns its URL.
func (e *env) open(route string) (string, error) {
	u := e.base + "/" + route + "/000/" + newID()
	resp, err := e.client.Post(u+"/xhr", "text/plain", nil)
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "o\n" {
		return "", fmt.Errorf("open %s: %d %q", u, resp.StatusCode, b)
	}
	return u, nil
}

// send posts an xhr_send body and counts its status.
func (e *env) send(u, body string) int {
	resp, err := e.client.Post(u+"/xhr_send", "text/plain", strings.NewReader(body))
	if err != nil {
		e.count("send_error", 1)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	e.count(fmt.Sprintf("send_%d", resp.StatusCode), 1)
	return resp.StatusCode
}

// amplifyBody asks /amplify for n answers of 32 KiB.
func amplifyBody(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat(`"15",`, n), ",") + "]"
}

func attackAmplify(e *env) {
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		u, err := e.open("amplify")
		if err != nil {
			e.notes += err.Error() + "; "
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !e.stopped() {
				e.send(u, amplifyBody(64))
			}
		}()
	}
	wg.Wait()
}

func attackUnreadStream(e *env) {
	u, err := url.Parse(e.base)
	if err != nil {
		return
	}
	id := newID()
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		e.notes += err.Error() + "; "
		return
	}
	defer conn.Close()
	// Shrink the receive buffer so that the server's writes stall early.
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "POST /amplify/000/%s/xhr_streaming HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", id, u.Host)
	time.Sleep(200 * time.Millisecond) // the session is open
	su := e.base + "/amplify/000/" + id
	for !e.stopped() {
		if e.send(su, amplifyBody(64)) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func attackBroadcast(e *env) {
	c, _, err := websocket.DefaultDialer.Dial(wsURL(e.base, "/broadcast/000/"+newID()+"/websocket"), nil)
	if err != nil {
		e.notes += err.Error() + "; "
		return
	}
	defer c.Close()
	go func() { // read what comes back, so that only the server's buffers count
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	msg, _ := json.Marshal([]string{strings.Repeat("b", 64<<10)})
	for !e.stopped() {
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			e.count("write_error", 1)
			return
		}
		e.count("sent", 1)
	}
}

func attackSlowBody(e *env) {
	u, err := url.Parse(e.base)
	if err != nil {
		return
	}
	su, err := e.open("echo")
	if err != nil {
		e.notes += err.Error() + "; "
		return
	}
	path := strings.TrimPrefix(su, e.base) + "/xhr_send"
	var wg sync.WaitGroup
	var open atomic.Int64
	for i := 0; i < 700; i++ {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			e.count("dial_error", 1)
			continue
		}
		announce := 1 << 20
		if i%2 == 1 {
			announce = 100
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n[", path, u.Host, announce)
		open.Add(1)
		wg.Add(1)
		go func(i int, conn net.Conn) {
			defer wg.Done()
			defer conn.Close()
			closed := make(chan struct{})
			go func() { // the server's answer, or its close
				_, _ = io.Copy(io.Discard, conn)
				close(closed)
			}()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-closed:
					open.Add(-1)
					e.count("cut_by_server", 1)
					return
				case <-e.stop:
					return
				case <-t.C:
					if i%2 == 1 {
						_, _ = conn.Write([]byte(" ")) // a byte a second
					}
				}
			}
		}(i, conn)
	}
	<-e.stop
	e.count("still_open_at_end", int(open.Load()))
	wg.Wait()
}

// openMany opens 300 sessions with the requests req builds, counting the
// answers by status, then waits for the stop.
func (e *env) openMany(req func(i int) *http.Request) {
	for i := 0; i < 300 && !e.stopped(); i++ {
		resp, err := e.client.Do(req(i))
		if err != nil {
			e.count("error", 1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		e.count(fmt.Sprintf("status_%d", resp.StatusCode), 1)
	}
	<-e.stop
}

func attackLongIDs(e *env) {
	id := strings.Repeat("i", 64<<10)
	e.openMany(func(i int) *http.Request {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/echo/000/%s%d/xhr", e.base, id, i), nil)
		return req
	})
}

func attackHeaders(e *env, size int) {
	junk := strings.Repeat("j", size-4096)
	e.openMany(func(int) *http.Request {
		req, _ := http.NewRequest("POST", e.base+"/echo/000/"+newID()+"/xhr", nil)
		req.Header.Set("X-Junk", junk)
		req.Header.Set("Cookie", "c="+junk[:4096])
		return req
	})
}

func attackFragments(e *env) {
	c, _, err := websocket.DefaultDialer.Dial(wsURL(e.base, "/echo/000/"+newID()+"/websocket"), nil)
	if err != nil {
		e.notes += err.Error() + "; "
		return
	}
	defer c.Close()
	raw := c.UnderlyingConn()
	start := time.Now()
	if _, err := raw.Write([]byte{0x01, 0x80, 1, 2, 3, 4}); err != nil {
		return
	}
	batch := bytes.Repeat([]byte{0x00, 0x80, 1, 2, 3, 4}, 1000)
	for !e.stopped() {
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := raw.Write(batch); err != nil {
			e.count("cut_after_ms", int(time.Since(start).Milliseconds()))
			return
		}
		e.count("frames_written", len(batch)/6)
	}
}

func attackRedisOOM(e *env) {
	if e.rdb == nil {
		e.notes += "redis-oom needs -redis; "
		return
	}
	ctx := context.Background()
	u, err := e.open("echo")
	if err != nil {
		e.notes += err.Error() + "; "
		return
	}
	used, err := usedMemory(ctx, e.rdb)
	if err != nil {
		return
	}
	if err := e.rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used, 10)).Err(); err != nil {
		e.notes += err.Error() + "; "
		return
	}
	// Fill Redis to its limit, so that the echo cannot be stored.
	for i := 0; i < 1000; i++ {
		if err := e.rdb.Set(ctx, fmt.Sprintf("hostile:fill:%d", i), strings.Repeat("f", 64<<10), time.Minute).Err(); err != nil {
			break
		}
	}
	for i := 0; i < 10 && !e.stopped(); i++ {
		e.send(u, `["lost?"]`)
		time.Sleep(100 * time.Millisecond)
	}
	_ = e.rdb.ConfigSet(ctx, "maxmemory", "0").Err()
	for i := 0; i < 1000; i++ {
		e.rdb.Del(ctx, fmt.Sprintf("hostile:fill:%d", i))
	}
	// What a poll finds once Redis has room again: the echoes of the
	// sends that were answered 204, or nothing (then the poll waits for
	// a heartbeat: give up after 3 s).
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(pctx, "POST", u+"/xhr", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		e.count("poll_empty", 1)
		return
	}
	b, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	e.count("echoes_delivered", strings.Count(b, "lost?"))
}
