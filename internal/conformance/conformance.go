// Package conformance is a Go port of the SockJS protocol test suite
// (sockjs-protocol.py from the sockjs-protocol project), the literate
// specification of the SockJS protocol. It lets a SockJS server be checked
// against the specification from an ordinary Go test:
//
//	func TestConformance(t *testing.T) {
//		srv := startServer(t) // serves echo, close, disabled_websocket_echo, cookie_needed_echo
//		conformance.Run(t, conformance.Target{URL: func() string { return srv.URL }})
//	}
//
// Every test method of the python suite is a subtest named "Class/test_name",
// for example "XhrPolling/test_transport". The classes run one after another;
// the tests of one class run in parallel. Every network operation has a
// deadline, so a broken server fails a test instead of hanging it, and every
// connection a test opens is closed when the test ends.
//
// The server under test must serve, under the top URL, the four services the
// python suite expects:
//
//   - /echo: echoes every message; streaming transports must close their
//     response after 4096 bytes (response_limit 4096);
//   - /close: closes every new session with code 3000 and reason "Go away!";
//   - /disabled_websocket_echo: like echo, with websockets disabled;
//   - /cookie_needed_echo: like echo, with the JSESSIONID cookie enabled.
package conformance

import (
	"io"
	"sync"
	"testing"
)

// Target says where the server under test is.
type Target struct {
	// URL returns the top URL of a server that serves the services echo, close,
	// disabled_websocket_echo and cookie_needed_echo, e.g. "http://127.0.0.1:8081"
	// (no trailing slash). It is called once per HTTP request or websocket dial,
	// so a multi-node setup can return the next node each time.
	//
	// Tests run in parallel, so URL must be safe for concurrent use.
	URL func() string
}

// Service paths, relative to the top URL (the python suite's base_url,
// close_base_url, wsoff_base_url and cookie_base_url).
const (
	echoBase   = "/echo"
	closeBase  = "/close"
	wsoffBase  = "/disabled_websocket_echo"
	cookieBase = "/cookie_needed_echo"
)

type testCase struct {
	name string
	fn   func(e *env)
}

type testClass struct {
	name  string
	tests []testCase
}

// suite lists the test classes of sockjs-protocol.py in the order of the
// python file, each with its test methods.
func suite() []testClass {
	return []testClass{
		{"BaseUrlGreeting", []testCase{
			{"test_greeting", baseURLGreetingGreeting},
			{"test_notFound", baseURLGreetingNotFound},
		}},
		{"IframePage", []testCase{
			{"test_simpleUrl", iframeSimpleURL},
			{"test_versionedUrl", iframeVersionedURL},
			{"test_queriedUrl", iframeQueriedURL},
			{"test_invalidUrl", iframeInvalidURL},
			{"test_cacheability", iframeCacheability},
		}},
		{"InfoTest", []testCase{
			{"test_basic", infoBasic},
			{"test_entropy", infoEntropy},
			{"test_options", infoOptions},
			{"test_options_null_origin", infoOptionsNullOrigin},
			{"test_disabled_websocket", infoDisabledWebsocket},
		}},
		{"SessionURLs", []testCase{
			{"test_anyValue", sessionURLsAnyValue},
			{"test_invalidPaths", sessionURLsInvalidPaths},
			{"test_ignoringServerId", sessionURLsIgnoringServerID},
		}},
		{"Protocol", []testCase{
			{"test_simpleSession", protocolSimpleSession},
			{"test_closeSession", protocolCloseSession},
		}},
		{"WebsocketHttpErrors", []testCase{
			{"test_httpMethod", wsHTTPErrorsHTTPMethod},
			{"test_invalidConnectionHeader", wsHTTPErrorsInvalidConnectionHeader},
			{"test_invalidMethod", wsHTTPErrorsInvalidMethod},
		}},
		{"Websocket", []testCase{
			{"test_transport", websocketTransport},
			{"test_close", websocketClose},
			{"test_headersSanity", websocketHeadersSanity},
			{"test_empty_frame", websocketEmptyFrame},
			{"test_reuseSessionId", websocketReuseSessionID},
			{"test_haproxy", websocketHaproxy},
			{"test_broken_json", websocketBrokenJSON},
		}},
		{"XhrPolling", []testCase{
			{"test_options", xhrPollingOptions},
			{"test_transport", xhrPollingTransport},
			{"test_invalid_session", xhrPollingInvalidSession},
			{"test_invalid_json", xhrPollingInvalidJSON},
			{"test_content_types", xhrPollingContentTypes},
			{"test_request_headers_cors", xhrPollingRequestHeadersCORS},
			{"test_sending_empty_frame", xhrPollingSendingEmptyFrame},
		}},
		{"XhrStreaming", []testCase{
			{"test_options", xhrStreamingOptions},
			{"test_transport", xhrStreamingTransport},
			{"test_response_limit", xhrStreamingResponseLimit},
		}},
		{"EventSource", []testCase{
			{"test_transport", eventSourceTransport},
			{"test_response_limit", eventSourceResponseLimit},
		}},
		{"HtmlFile", []testCase{
			{"test_transport", htmlFileTransport},
			{"test_no_callback", htmlFileNoCallback},
			{"test_invalid_callback", htmlFileInvalidCallback},
			{"test_response_limit", htmlFileResponseLimit},
		}},
		{"JsonPolling", []testCase{
			{"test_transport", jsonPollingTransport},
			{"test_no_callback", jsonPollingNoCallback},
			{"test_invalid_callback", jsonPollingInvalidCallback},
			{"test_invalid_json", jsonPollingInvalidJSON},
			{"test_content_types", jsonPollingContentTypes},
			{"test_close", jsonPollingClose},
			{"test_sending_empty_frame", jsonPollingSendingEmptyFrame},
		}},
		{"JsessionidCookie", []testCase{
			{"test_basic", jsessionidBasic},
			{"test_xhr", jsessionidXhr},
			{"test_xhr_streaming", jsessionidXhrStreaming},
			{"test_eventsource", jsessionidEventSource},
			{"test_htmlfile", jsessionidHtmlFile},
			{"test_jsonp", jsessionidJsonp},
		}},
		{"RawWebsocket", []testCase{
			{"test_transport", rawWebsocketTransport},
			{"test_close", rawWebsocketClose},
		}},
		{"JSONEncoding", []testCase{
			{"test_xhr_server_encodes", jsonEncodingXhrServerEncodes},
			{"test_xhr_server_decodes", jsonEncodingXhrServerDecodes},
		}},
		{"HandlingClose", []testCase{
			{"test_close_frame", handlingCloseCloseFrame},
			{"test_close_request", handlingCloseCloseRequest},
			{"test_abort_xhr_streaming", handlingCloseAbortXhrStreaming},
			{"test_abort_xhr_polling", handlingCloseAbortXhrPolling},
		}},
		{"Http10", []testCase{
			{"test_synchronous", http10Synchronous},
			{"test_streaming", http10Streaming},
		}},
		{"Http11", []testCase{
			{"test_synchronous", http11Synchronous},
			{"test_streaming", http11Streaming},
		}},
	}
}

// Run runs every test class of sockjs-protocol.py as a subtest named after the
// class and test, e.g. "XhrPolling/test_transport" (use the python names).
//
// The classes run sequentially and the tests of a class in parallel; Run
// returns when every test has finished and closed its connections.
func Run(t *testing.T, target Target) {
	t.Helper()
	if target.URL == nil {
		t.Fatal("conformance: Target.URL is nil")
	}
	for _, class := range suite() {
		t.Run(class.name, func(t *testing.T) {
			for _, tc := range class.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(newEnv(t, target))
				})
			}
		})
	}
}

// env is the state of one running test: the testing.T to report to, the
// target, and every connection the test opened (closed when the test ends).
type env struct {
	t      *testing.T
	target Target

	mu      sync.Mutex
	closers []io.Closer
}

func newEnv(t *testing.T, target Target) *env {
	e := &env{t: t, target: target}
	t.Cleanup(e.closeAll)
	return e
}

// track registers c to be closed when the test ends.
func (e *env) track(c io.Closer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closers = append(e.closers, c)
}

func (e *env) closeAll() {
	e.mu.Lock()
	cs := e.closers
	e.closers = nil
	e.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		_ = cs[i].Close()
	}
}
