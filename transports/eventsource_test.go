package transports

import (
	"net/url"
	"strings"
	"testing"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct{ name, frame, want string }{
		{"plain", `a["x"]`, "data: a[\"x\"]\r\n\r\n"},
		{"percent", `a["100% %41"]`, "data: a[\"100%25 %2541\"]\r\n\r\n"},
		{"raw line breaks never end the event", "a\r\nb\x00", "data: a%0D%0Ab%00\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendEvent(nil, []byte(tt.frame)))
			if got != tt.want {
				t.Fatalf("appendEvent(%q) = %q, want %q", tt.frame, got, tt.want)
			}
			// What sockjs-client's decodeURI gives back is the frame.
			data := strings.TrimSuffix(strings.TrimPrefix(got, "data: "), "\r\n\r\n")
			back, err := url.PathUnescape(data)
			if err != nil || back != tt.frame {
				t.Fatalf("decoded %q (%v), want %q", back, err, tt.frame)
			}
		})
	}
}
