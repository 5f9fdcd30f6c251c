package redisbus_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a TCP proxy to a Redis server that can black-hole the
// connections it carries: they stay open, their writes succeed, and nothing
// arrives any more, as when a network path dies without a reset. Later
// connections are forwarded normally.
type proxy struct {
	Addr string

	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	links []*link
	done  bool
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	silent         atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{Addr: ln.Addr().String(), ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.links = append(p.links, l)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, c, s)
		go p.pipe(l, s, c)
	}
}

// pipe copies from src to dst until either fails; once the link is silent
// it reads and discards.
func (p *proxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if err != io.EOF || !l.silent.Load() {
				break
			}
			return // a silent link does not pass the close on either
		}
	}
	if !l.silent.Load() {
		l.client.Close()
		l.server.Close()
	}
}

// silence black-holes every connection open now.
func (p *proxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.silent.Store(true)
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.done = true
	links := p.links
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.client.Close()
		l.server.Close()
	}
	p.wg.Wait()
}
