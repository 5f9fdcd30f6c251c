package integration_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestChatPageIntegrity checks the integrity attribute of the chat page's
// sockjs-client <script>: the version in its URL is the one pinned in
// browser/package.json, and the hash is that of dist/sockjs.min.js in the
// npm package installed there (npm ci checks the package against the lock
// file). The browser suite then loads the page with that file in place of
// the CDN's, so Chromium enforces the hash too.
func TestChatPageIntegrity(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(repoRoot, "examples/chat/static/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<script id="sockjs-client" src="https://cdn\.jsdelivr\.net/npm/sockjs-client@([0-9.]+)/dist/sockjs\.min\.js"\s+integrity="sha384-([A-Za-z0-9+/=]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("chat page: no pinned sockjs-client <script> with an integrity attribute")
	}
	version, want := string(m[1]), string(m[2])

	var pkg struct{ Dependencies map[string]string }
	b, err := os.ReadFile("browser/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Dependencies["sockjs-client"] != version {
		t.Errorf("chat page loads sockjs-client %s, browser/package.json pins %s", version, pkg.Dependencies["sockjs-client"])
	}

	file := "browser/node_modules/sockjs-client/dist/sockjs.min.js"
	js, err := os.ReadFile(file)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI runs npm ci in integration_test/browser)", err)
		}
		t.Skipf("%v: run npm ci in integration_test/browser", err)
	}
	sum := sha512.Sum384(js)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("chat page integrity sha384-%s, but %s is sha384-%s", want, file, got)
	}
}
