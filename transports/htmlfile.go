package transports

import (
	"net/http"
	"strings"

	"github.com/sockjs-cluster/sockjs/internal/frame"
)

const htmlfileHead = `<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{{callback}};
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>`

// HTMLFile serves GET /{server}/{session}/htmlfile?c=callback: a page that
// streams <script> tags calling the parent's callback with each frame.
func HTMLFile(cfg *Config, s Sessions, w http.ResponseWriter, r *http.Request, id string) {
	cb, ok := callback(w, r)
	if !ok {
		return
	}
	head := strings.Replace(htmlfileHead, "{{callback}}", cb, 1)
	prelude := make([]byte, 0, 1100+len(head))
	prelude = append(prelude, head...)
	// Pad past 1 KiB: some browsers render nothing before that.
	for len(prelude) < 1024+14 {
		prelude = append(prelude, ' ')
	}
	prelude = append(prelude, "\r\n\r\n"...)
	serveStream(cfg, s, w, r, id, htmlType, prelude, appendScript)
}

func appendScript(dst, f []byte) []byte {
	dst = append(dst, "<script>\np("...)
	dst = frame.AppendJSString(dst, string(f))
	return append(dst, ");\n</script>\r\n"...)
}
