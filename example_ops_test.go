package sockjs_test

import (
	"context"
	"errors"
	"log"
	"net/http"

	"github.com/sockjs-cluster/sockjs"
)

// Why a session closed, in OnClose, and who it belonged to.
func ExampleSession_Err() {
	node := sockjs.NewServer(sockjs.Config{})
	defer node.Shutdown(context.Background())

	node.Route("chat", "/chat", sockjs.HandlerFuncs{
		Close: func(s *sockjs.Session) {
			var ce *sockjs.CloseError
			if errors.As(s.Err(), &ce) && ce.Cause != sockjs.CauseClient && ce.Cause != sockjs.CauseExpired {
				log.Printf("session %s of %q closed: %d %q (%s)", s.ID(), s.Owner(), ce.Code, ce.Reason, ce.Cause)
			}
		},
	}, sockjs.Options{
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") },
	})
}

// Refusing clients before a session exists: they get 403 and no session
// is stored.
func ExampleOptions_authorize() {
	node := sockjs.NewServer(sockjs.Config{})
	defer node.Shutdown(context.Background())

	node.Route("chat", "/chat", sockjs.HandlerFuncs{}, sockjs.Options{
		Authorize: func(r *http.Request) error {
			if _, err := r.Cookie("session"); err != nil {
				return errors.New("not signed in")
			}
			return nil
		},
	})
}
