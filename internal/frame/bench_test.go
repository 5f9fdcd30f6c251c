package frame

import (
	"strings"
	"testing"
)

var (
	benchASCII = []string{
		"hello",
		`{"type":"chat","room":"lobby","user":"alice","text":"Hello, everyone! How are you today?"}`,
		strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20),
	}
	benchUnicode = []string{
		"zażółć gęślą jaźń",
		"日本語のテキストとemoji 😀🎉 mixed with ASCII text",
		strings.Repeat("Привет, мир! Καλημέρα κόσμε! ", 20),
	}
	benchEscapes = []string{
		"line one\nline two\n\ttabbed \"quoted\" back\\slash",
		"\u2028separators\u2029 and zero\u200b width\u200c joiners\u200d \ufeff\ufff0",
		strings.Repeat("{\"k\":\"v\"}\n", 40),
	}
)

func benchSets() []struct {
	name string
	msgs []string
} {
	return []struct {
		name string
		msgs []string
	}{
		{"ascii", benchASCII},
		{"unicode", benchUnicode},
		{"escapes", benchEscapes},
	}
}

func BenchmarkAppendMessages(b *testing.B) {
	for _, bs := range benchSets() {
		b.Run(bs.name, func(b *testing.B) {
			buf := make([]byte, 0, 64<<10)
			b.SetBytes(int64(len(AppendMessages(nil, bs.msgs))))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = AppendMessages(buf[:0], bs.msgs)
			}
		})
	}
}

func BenchmarkAppendQuote(b *testing.B) {
	for _, bs := range benchSets() {
		s := bs.msgs[2]
		b.Run(bs.name, func(b *testing.B) {
			buf := make([]byte, 0, 64<<10)
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = AppendQuote(buf[:0], s)
			}
		})
	}
}

func BenchmarkAppendJSString(b *testing.B) {
	frame := string(AppendMessages(nil, benchASCII))
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendJSString(buf[:0], frame)
	}
}

func BenchmarkParseMessages(b *testing.B) {
	for _, bs := range benchSets() {
		payload := AppendMessages(nil, bs.msgs)[1:]
		b.Run(bs.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := ParseMessages(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("single", func(b *testing.B) {
		payload := []byte(`["x"]`)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := ParseMessages(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
