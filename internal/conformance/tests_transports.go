package conformance

import (
	"strings"
)

// The HTTP transports: xhr-polling, xhr-streaming, eventsource, htmlfile,
// jsonp-polling, and the JSESSIONID cookie they set.

// XhrPolling: /<server>/<session>/xhr and /xhr_send.

func xhrPollingOptions(e *env) {
	for _, suffix := range []string{"/xhr", "/xhr_send"} {
		e.verifyOptions(echoBase+"/abc/abc"+suffix, "OPTIONS, POST")
	}
}

func xhrPollingTransport(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr", "", hdr("Origin", "test"))
	e.status(r, 200)
	e.body(r, "o\n")
	e.verifyContentType(r, "application/javascript;charset=UTF-8")
	e.verifyCORS(r, "test")
	// iOS 6 caches POSTs.
	e.verifyNotCached(r)

	r = e.post(url+"/xhr_send", `["x"]`, hdr("Origin", "test"))
	e.status(r, 204)
	e.emptyBody(r)
	// text/plain even on a 204, or Firefox assumes XML.
	e.verifyContentType(r, "text/plain;charset=UTF-8")
	e.verifyCORS(r, "test")
	e.verifyNotCached(r)

	r = e.post(url+"/xhr", "")
	e.status(r, 200)
	e.body(r, "a[\"x\"]\n")
}

// Sending to a session that does not exist gives 404.
func xhrPollingInvalidSession(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr_send", `["x"]`)
	e.verify404(r)
}

// Broken JSON and an empty body give 500 and leave the session usable.
func xhrPollingInvalidJSON(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")

	r = e.post(url+"/xhr_send", `["x`)
	e.status(r, 500)
	e.bodyContains(r, "Broken JSON encoding.")

	r = e.post(url+"/xhr_send", "")
	e.status(r, 500)
	e.bodyContains(r, "Payload expected.")

	r = e.post(url+"/xhr_send", `["a"]`)
	e.emptyBody(r)
	e.status(r, 204)

	r = e.post(url+"/xhr", "")
	e.body(r, "a[\"a\"]\n")
	e.status(r, 200)
}

// Messages are accepted whatever the request content type.
func xhrPollingContentTypes(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr", "")
	e.body(r, "o\n")

	ctypes := []string{"text/plain", "T", "application/json", "application/xml", "",
		"application/json; charset=utf-8", "text/xml; charset=utf-8", "text/xml"}
	for _, ct := range ctypes {
		r = e.post(url+"/xhr_send", `["a"]`, hdr("Content-Type", ct))
		e.status(r, 204)
		e.emptyBody(r)
	}

	r = e.post(url+"/xhr", "")
	e.status(r, 200)
	msgs := make([]string, len(ctypes))
	for i := range msgs {
		msgs[i] = `"a"`
	}
	e.body(r, "a["+strings.Join(msgs, ",")+"]\n")
}

// Access-Control-Request-Headers is echoed as Access-Control-Allow-Headers.
func xhrPollingRequestHeadersCORS(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.options(url+"/xhr", hdr("Origin", "test"), hdr("Access-Control-Request-Method", "POST"),
		hdr("Access-Control-Request-Headers", "a, b, c"))
	e.status(r, 204, 200)
	e.verifyCORS(r, "test")
	e.headerEqual(r, "Access-Control-Allow-Headers", "a, b, c")

	url = echoBase + "/000/" + newSessionID()
	r = e.options(url+"/xhr", hdr("Origin", "test"), hdr("Access-Control-Request-Method", "POST"),
		hdr("Access-Control-Request-Headers", ""))
	e.status(r, 204, 200)
	e.verifyCORS(r, "test")
	e.headerEmpty(r, "Access-Control-Allow-Headers")

	url = echoBase + "/000/" + newSessionID()
	r = e.options(url+"/xhr", hdr("Origin", "test"), hdr("Access-Control-Request-Method", "POST"))
	e.status(r, 204, 200)
	e.verifyCORS(r, "test")
	e.headerEmpty(r, "Access-Control-Allow-Headers")
}

// A frame with no messages (a client heartbeat) is accepted.
func xhrPollingSendingEmptyFrame(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")

	r = e.post(url+"/xhr_send", "[]")
	e.status(r, 204)

	r = e.post(url+"/xhr_send", `["a"]`)
	e.status(r, 204)

	r = e.post(url+"/xhr", "")
	e.body(r, "a[\"a\"]\n")
	e.status(r, 200)
}

// XhrStreaming: /<server>/<session>/xhr_streaming.

func xhrStreamingOptions(e *env) {
	e.verifyOptions(echoBase+"/abc/abc/xhr_streaming", "OPTIONS, POST")
}

func xhrStreamingTransport(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.postAsync(url+"/xhr_streaming", hdr("Origin", "test"))
	e.status(r.response, 200)
	e.verifyContentType(r.response, "application/javascript;charset=UTF-8")
	e.verifyCORS(r.response, "test")
	e.verifyNotCached(r.response)

	// A 2 KiB prelude of 'h' comes first.
	r.expect(strings.Repeat("h", 2048) + "\n")
	r.expect("o\n")

	r1 := e.post(url+"/xhr_send", `["x"]`)
	e.status(r1, 204)
	e.emptyBody(r1)

	r.expect("a[\"x\"]\n")
	r.close()
}

// The test server closes a streaming response after 4096 bytes.
func xhrStreamingResponseLimit(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.postAsync(url + "/xhr_streaming")
	e.status(r.response, 200)
	e.check(r.read() != "", "%s: expected a prelude chunk, got the end of the body", r.req)
	r.expect("o\n")

	msg := `"` + strings.Repeat("x", 128) + `"`
	for range 31 {
		r1 := e.post(url+"/xhr_send", "["+msg+"]")
		e.status(r1, 204)
		r.expect("a[" + msg + "]\n")
	}

	r.expectEnd()
}

// EventSource: /<server>/<session>/eventsource.

func eventSourceTransport(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/eventsource")
	e.status(r.response, 200)
	e.verifyContentType(r.response, "text/event-stream")
	e.verifyNotCached(r.response)

	// A new line prelude, for Opera.
	r.expect("\r\n")
	r.expect("data: o\r\n\r\n")

	r1 := e.post(url+"/xhr_send", `["x"]`)
	e.emptyBody(r1)
	e.status(r1, 204)

	r.expect("data: a[\"x\"]\r\n\r\n")

	// Leading spaces, new lines and NUL arrive JSON-encoded.
	r1 = e.post(url+"/xhr_send", `["  \u0000\n\r "]`)
	e.emptyBody(r1)
	e.status(r1, 204)

	r.expect(`data: a["  \u0000\n\r "]` + "\r\n\r\n")
	r.close()
}

func eventSourceResponseLimit(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/eventsource")
	e.status(r.response, 200)
	e.check(r.read() != "", "%s: expected a prelude chunk, got the end of the body", r.req)
	r.expect("data: o\r\n\r\n")

	msg := `"` + strings.Repeat("x", 4096) + `"`
	r1 := e.post(url+"/xhr_send", "["+msg+"]")
	e.status(r1, 204)
	r.expect("data: a[" + msg + "]\r\n\r\n")

	r.expectEnd()
}

// HtmlFile: /<server>/<session>/htmlfile?c=<callback>.

// htmlFileHead is the start of the htmlfile page, before the padding, with
// %s standing for the callback.
const htmlFileHead = `<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>`

func htmlFileTransport(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/htmlfile?c=%63allback")
	e.status(r.response, 200)
	e.verifyContentType(r.response, "text/html;charset=UTF-8")
	e.verifyNotCached(r.response)

	d := r.read()
	e.equal(r.what("first chunk, stripped"), asciiStrip(d), strings.Replace(htmlFileHead, "%s", "callback", 1))
	e.check(len(d) > 1024, "%s: the first chunk should be longer than 1024 bytes, it has %d", r.req, len(d))
	r.expect("<script>\np(\"o\");\n</script>\r\n")

	r1 := e.post(url+"/xhr_send", `["x"]`)
	e.emptyBody(r1)
	e.status(r1, 204)

	r.expect("<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n")
	r.close()
}

func htmlFileNoCallback(e *env) {
	r := e.get(echoBase + "/a/a/htmlfile")
	e.status(r, 500)
	e.bodyContains(r, `"callback" parameter required`)
}

// A callback with a character outside [a-zA-Z0-9-_.] gives 500.
func htmlFileInvalidCallback(e *env) {
	for _, callback := range []string{"%20", "*", "abc(", "abc%28"} {
		r := e.get(echoBase + "/a/a/htmlfile?c=" + callback)
		e.status(r, 500)
		e.bodyContains(r, `invalid "callback" parameter`)
	}
}

func htmlFileResponseLimit(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/htmlfile?c=callback")
	e.status(r.response, 200)
	e.check(r.read() != "", "%s: expected a prelude chunk, got the end of the body", r.req)
	r.expect("<script>\np(\"o\");\n</script>\r\n")

	msg := strings.Repeat("x", 4096)
	r1 := e.post(url+"/xhr_send", `["`+msg+`"]`)
	e.status(r1, 204)
	r.expect("<script>\np(\"a[\\\"" + msg + "\\\"]\");\n</script>\r\n")

	r.expectEnd()
}

// JsonPolling: /<server>/<session>/jsonp?c=<callback> and /jsonp_send.

const formURLEncoded = "application/x-www-form-urlencoded"

func jsonPollingTransport(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=%63allback")
	e.status(r, 200)
	e.verifyContentType(r, "application/javascript;charset=UTF-8")
	e.verifyNotCached(r)
	e.body(r, "/**/callback(\"o\");\r\n")

	r = e.post(url+"/jsonp_send", "d=%5B%22x%22%5D", hdr("Content-Type", formURLEncoded))
	// "ok" rather than a 204, for Konqueror.
	e.body(r, "ok")
	e.status(r, 200)
	e.verifyContentType(r, "text/plain;charset=UTF-8")
	e.verifyNotCached(r)

	r = e.get(url + "/jsonp?c=%63allback")
	e.status(r, 200)
	e.body(r, "/**/callback(\"a[\\\"x\\\"]\");\r\n")
}

func jsonPollingNoCallback(e *env) {
	r := e.get(echoBase + "/a/a/jsonp")
	e.status(r, 500)
	e.bodyContains(r, `"callback" parameter required`)
}

func jsonPollingInvalidCallback(e *env) {
	for _, callback := range []string{"%20", "*", "abc(", "abc%28"} {
		r := e.get(echoBase + "/a/a/jsonp?c=" + callback)
		e.status(r, 500)
		e.bodyContains(r, `invalid "callback" parameter`)
	}
}

func jsonPollingInvalidJSON(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"o\");\r\n")

	r = e.post(url+"/jsonp_send", "d=%5B%22x", hdr("Content-Type", formURLEncoded))
	e.status(r, 500)
	e.bodyContains(r, "Broken JSON encoding.")

	for _, data := range []string{"", "d=", "p=p"} {
		r = e.post(url+"/jsonp_send", data, hdr("Content-Type", formURLEncoded))
		e.status(r, 500)
		e.bodyContains(r, "Payload expected.")
	}

	r = e.post(url+"/jsonp_send", "d=%5B%22b%22%5D", hdr("Content-Type", formURLEncoded))
	e.body(r, "ok")

	r = e.get(url + "/jsonp?c=x")
	e.status(r, 200)
	e.body(r, "/**/x(\"a[\\\"b\\\"]\");\r\n")
}

// jsonp_send takes a form-encoded d= or a raw body.
func jsonPollingContentTypes(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"o\");\r\n")

	r = e.post(url+"/jsonp_send", "d=%5B%22abc%22%5D", hdr("Content-Type", formURLEncoded))
	e.body(r, "ok")
	r = e.post(url+"/jsonp_send", `["%61bc"]`, hdr("Content-Type", "text/plain"))
	e.body(r, "ok")

	r = e.get(url + "/jsonp?c=x")
	e.status(r, 200)
	e.body(r, "/**/x(\"a[\\\"abc\\\",\\\"%61bc\\\"]\");\r\n")
}

func jsonPollingClose(e *env) {
	url := closeBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"o\");\r\n")

	r = e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")

	r = e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
}

func jsonPollingSendingEmptyFrame(e *env) {
	url := echoBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=x")
	e.body(r, "/**/x(\"o\");\r\n")

	r = e.post(url+"/jsonp_send", "d=%5B%5D", hdr("Content-Type", formURLEncoded))
	e.body(r, "ok")

	r = e.post(url+"/jsonp_send", "d=%5B%22x%22%5D", hdr("Content-Type", formURLEncoded))
	e.body(r, "ok")

	r = e.get(url + "/jsonp?c=x")
	e.status(r, 200)
	e.body(r, "/**/x(\"a[\\\"x\\\"]\");\r\n")
}

// JsessionidCookie: with the jsessionid option every transport except
// websockets sets JSESSIONID (for sticky load balancing).

func jsessionidBasic(e *env) {
	r := e.get(cookieBase + "/info")
	e.status(r, 200)
	e.verifyNoCookie(r)
	data := e.jsonObject(r)
	e.check(data["cookie_needed"] == true, "%s: cookie_needed should be true, got %v", r.req, data["cookie_needed"])
}

func jsessionidXhr(e *env) {
	url := cookieBase + "/000/" + newSessionID()
	r := e.post(url+"/xhr", "")
	e.status(r, 200)
	e.body(r, "o\n")
	e.verifyCookie(r, "JSESSIONID=dummy")

	// A cookie the client sends is echoed.
	url = cookieBase + "/000/" + newSessionID()
	r = e.post(url+"/xhr", "", hdr("Cookie", "JSESSIONID=abcdef"))
	e.status(r, 200)
	e.body(r, "o\n")
	e.verifyCookie(r, "JSESSIONID=abcdef")
}

func jsessionidXhrStreaming(e *env) {
	url := cookieBase + "/000/" + newSessionID()
	r := e.postAsync(url + "/xhr_streaming")
	e.status(r.response, 200)
	e.verifyCookie(r.response, "JSESSIONID=dummy")
	r.close()
}

func jsessionidEventSource(e *env) {
	url := cookieBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/eventsource")
	e.status(r.response, 200)
	e.verifyCookie(r.response, "JSESSIONID=dummy")
	r.close()
}

func jsessionidHtmlFile(e *env) {
	url := cookieBase + "/000/" + newSessionID()
	r := e.getAsync(url + "/htmlfile?c=%63allback")
	e.status(r.response, 200)
	e.verifyCookie(r.response, "JSESSIONID=dummy")
	r.close()
}

func jsessionidJsonp(e *env) {
	url := cookieBase + "/000/" + newSessionID()
	r := e.get(url + "/jsonp?c=%63allback")
	e.status(r, 200)
	e.verifyCookie(r, "JSESSIONID=dummy")
	e.body(r, "/**/callback(\"o\");\r\n")

	r = e.post(url+"/jsonp_send", "d=%5B%22x%22%5D", hdr("Content-Type", formURLEncoded))
	e.body(r, "ok")
	e.status(r, 200)
	e.verifyCookie(r, "JSESSIONID=dummy")
}
