package integration_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesStandAlone copies examples/chat and examples/testserver,
// without their tests, into fresh modules that require the library (with a
// replace to this repository) and builds them: an example must build for
// a user who copies it, so it imports nothing under internal/.
func TestExamplesStandAlone(t *testing.T) {
	goBin := lookPath(t, "go")
	root := mustAbs(t, repoRoot)
	for _, example := range []string{"chat", "testserver"} {
		t.Run(example, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(root, "examples", example)
			err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(src, path)
				if d.IsDir() {
					return os.MkdirAll(filepath.Join(dir, rel), 0o755)
				}
				if strings.HasSuffix(path, "_test.go") {
					return nil
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if strings.HasSuffix(path, ".go") && strings.Contains(string(b), "github.com/sockjs-cluster/sockjs/internal/") {
					t.Errorf("examples/%s/%s imports an internal package", example, rel)
				}
				return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"mod", "init", "example.com/x"},
				{"mod", "edit", "-replace", "github.com/sockjs-cluster/sockjs=" + root},
				{"mod", "edit", "-replace", "github.com/sockjs-cluster/sockjs/sockjsprom=" + filepath.Join(root, "sockjsprom")},
				{"mod", "tidy"},
				{"build", "./..."},
				{"vet", "./..."},
			} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
