package sockjs_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sockjs-cluster/sockjs"
)

// A route under http.ServeMux: an echo service at /echo.
func ExampleServer_Route() {
	node := sockjs.NewServer(sockjs.Config{}) // in memory: one process
	defer node.Shutdown(context.Background())

	echo := node.Route("echo", "/echo", sockjs.HandlerFuncs{
		Message: func(s *sockjs.Session, msg string) {
			_ = s.Send(s.Context(), msg)
		},
	}, sockjs.Options{})
	mux := http.NewServeMux()
	mux.Handle("/echo/", echo)

	srv := httptest.NewServer(mux) // in a real program: http.Server with ReadHeaderTimeout
	defer srv.Close()

	// What sockjs-client does over xhr-polling: open, send, poll.
	post := func(path, body string) string {
		resp, err := http.Post(srv.URL+"/echo/000/session-1/"+path, "text/plain", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %q", resp.StatusCode, b)
	}
	fmt.Println(post("xhr", ""))
	fmt.Println(post("xhr_send", `["hello"]`))
	fmt.Println(post("xhr", ""))
	// Output:
	// 200 "o\n"
	// 204 ""
	// 200 "a[\"hello\"]\n"
}

// Broadcast to every session of a route, from anywhere in the program (or,
// with a shared store and bus, from any node).
func ExampleManager_Broadcast() {
	node := sockjs.NewServer(sockjs.Config{})
	defer node.Shutdown(context.Background())
	node.Route("news", "/news", sockjs.HandlerFuncs{}, sockjs.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := node.Manager("news").Broadcast(ctx, "extra! extra!"); err != nil {
		log.Fatal(err)
	}
	n, _ := node.Manager("news").Count(ctx)
	fmt.Println("open sessions:", n)
	// Output:
	// open sessions: 0
}

// OnOpen, OnMessage and OnClose as one literal; OnClose runs once per
// session, cluster-wide.
func ExampleHandlerFuncs() {
	h := sockjs.HandlerFuncs{
		Open: func(s *sockjs.Session) {
			log.Printf("%s joined from %s", s.ID(), s.Request().RemoteAddr)
		},
		Message: func(s *sockjs.Session, msg string) {
			_ = s.Send(s.Context(), strings.ToUpper(msg))
		},
		Close: func(s *sockjs.Session) {
			log.Printf("%s left", s.ID())
		},
	}
	node := sockjs.NewServer(sockjs.Config{})
	defer node.Shutdown(context.Background())
	http.Handle("/shout/", node.Route("shout", "/shout", h, sockjs.Options{}))
}
