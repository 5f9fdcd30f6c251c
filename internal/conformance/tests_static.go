package conformance

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Static URLs: the greeting, the iframe page and /info.

// BaseUrlGreeting: the top URL of a service answers with a greeting.

func baseURLGreetingGreeting(e *env) {
	for _, path := range []string{echoBase, echoBase + "/"} {
		r := e.get(path)
		e.status(r, 200)
		e.verifyContentType(r, "text/plain;charset=UTF-8")
		e.body(r, "Welcome to SockJS!\n")
		e.verifyNoCookie(r)
	}
}

// Other simple requests give 404.
func baseURLGreetingNotFound(e *env) {
	for _, suffix := range []string{"/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a", "/a/"} {
		e.verify404(e.get(echoBase + suffix))
	}
}

// IframePage: /iframe*.html serves a page that loads the SockJS client for
// the cross-domain transports.

// iframeBodyRE is the exact page, up to the sockjs_url, after stripping
// surrounding whitespace (the python IframePage.iframe_body).
var iframeBodyRE = regexp.MustCompile(`^<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="(?P<sockjs_url>[^"]*)"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe\(\);
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>$`)

// verifyIframe checks an iframe page: 200, text/html, strongly cacheable
// (Cache-Control, Expires and ETag, no Last-Modified), the exact body, and no
// cookie.
func verifyIframe(e *env, path string) *response {
	e.t.Helper()
	r := e.get(path)
	e.status(r, 200)
	e.verifyContentType(r, "text/html;charset=UTF-8")
	e.headerMatches(r, "Cache-Control", "public", "")
	e.headerMatches(r, "Cache-Control", "max-age=[1-9][0-9]{6}", "(max-age must be large, one year (31536000) is best)")
	e.headerPresent(r, "Expires")
	e.headerPresent(r, "ETag")
	e.headerEmpty(r, "last-modified")

	m := iframeBodyRE.FindStringSubmatch(asciiStrip(r.body))
	if m == nil {
		e.t.Fatalf("%s: body is not the SockJS iframe page:\n%s\nwant it to match:\n%s", r.req, r.body, iframeBodyRE)
	}
	sockjsURL := m[iframeBodyRE.SubexpIndex("sockjs_url")]
	e.check(strings.HasPrefix(sockjsURL, "/") || strings.HasPrefix(sockjsURL, "http"),
		"%s: sockjs_url %s should start with / or http", r.req, show(sockjsURL))
	e.verifyNoCookie(r)
	return r
}

func iframeSimpleURL(e *env) {
	verifyIframe(e, echoBase+"/iframe.html")
}

// A versioned iframe URL serves the same page.
func iframeVersionedURL(e *env) {
	for _, suffix := range []string{"/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html",
		"/iframe-0.1.2abc-dirty.2144.html"} {
		verifyIframe(e, echoBase+suffix)
	}
}

// A query string (used to defeat caching) is ignored.
func iframeQueriedURL(e *env) {
	for _, suffix := range []string{"/iframe-a.html?t=1234", "/iframe-0.1.2.html?t=123414",
		"/iframe-0.1.2abc-dirty.2144.html?t=qweqweq123"} {
		verifyIframe(e, echoBase+suffix)
	}
}

// Malformed iframe URLs give 404.
func iframeInvalidURL(e *env) {
	for _, suffix := range []string{"/iframe.htm", "/iframe", "/IFRAME.HTML", "/IFRAME",
		"/iframe.HTML", "/iframe.xml", "/iframe-/.html"} {
		e.verify404(e.get(echoBase + suffix))
	}
}

// The ETag is stable and If-None-Match gives 304 with no body.
func iframeCacheability(e *env) {
	r1 := e.get(echoBase + "/iframe.html")
	r2 := e.get(echoBase + "/iframe.html")
	e.equal("ETag of two GETs of /iframe.html", r2.get("etag"), r1.get("etag"))
	e.headerPresent(r1, "etag")

	r := e.get(echoBase+"/iframe.html", hdr("If-None-Match", r1.get("etag")))
	e.status(r, 304)
	e.headerEmpty(r, "content-type")
	e.emptyBody(r)
}

// InfoTest: /info tells the client about the server and must answer fast.

func infoBasic(e *env) {
	r := e.get(echoBase+"/info", hdr("Origin", "test"))
	e.status(r, 200)
	e.verifyContentType(r, "application/json;charset=UTF-8")
	e.verifyNoCookie(r)
	e.verifyNotCached(r)
	e.verifyCORS(r, "test")

	data := e.jsonObject(r)
	e.check(data["websocket"] == true, "%s: websocket should be true, got %v", r.req, data["websocket"])
	_, isBool := data["cookie_needed"].(bool)
	e.check(isBool, "%s: cookie_needed should be true or false, got %v", r.req, data["cookie_needed"])
	origins, _ := json.Marshal(data["origins"])
	e.equal(r.what("origins"), string(origins), `["*:*"]`)
	e.check(isJSONInt(data["entropy"]), "%s: entropy should be an integer, got %v", r.req, data["entropy"])
}

// Each /info answer carries a fresh random entropy.
func infoEntropy(e *env) {
	r1 := e.get(echoBase + "/info")
	data1 := e.jsonObject(r1)
	r2 := e.get(echoBase + "/info")
	data2 := e.jsonObject(r2)
	e.check(isJSONInt(data1["entropy"]), "%s: entropy should be an integer, got %v", r1.req, data1["entropy"])
	e.check(isJSONInt(data2["entropy"]), "%s: entropy should be an integer, got %v", r2.req, data2["entropy"])
	e.check(data1["entropy"] != data2["entropy"], "%s: two answers have the same entropy %v", r1.req, data1["entropy"])
}

func infoOptions(e *env) {
	e.verifyOptions(echoBase+"/info", "OPTIONS, GET")
}

// An Origin "null" (a page loaded from file://) is echoed as "null".
func infoOptionsNullOrigin(e *env) {
	r := e.options(echoBase+"/info", hdr("Origin", "null"), hdr("Access-Control-Request-Method", "POST"))
	e.status(r, 204, 200)
	e.emptyBody(r)
	e.headerEqual(r, "access-control-allow-origin", "null")
}

// disabled_websocket_echo says websockets are off.
func infoDisabledWebsocket(e *env) {
	r := e.get(wsoffBase + "/info")
	e.status(r, 200)
	data := e.jsonObject(r)
	e.check(data["websocket"] == false, "%s: websocket should be false, got %v", r.req, data["websocket"])
}
