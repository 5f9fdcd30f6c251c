package integration_test

// Checks of the deployment files that run without a Docker engine: the
// Dockerfile's build as plain commands, docker-compose.yml's structure, and
// nginx -t on the files the compose file mounts, where it mounts them.

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository, seen from this module's directory.
const repoRoot = ".."

// dockerfile is the repository's Dockerfile, one instruction per entry
// (continuation lines joined), by stage.
type dockerfile struct {
	stages [][]instruction
}

type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	var pending string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			df.stages = append(df.stages, nil)
		}
		if len(df.stages) == 0 { // global ARGs before the first FROM
			continue
		}
		df.stages[len(df.stages)-1] = append(df.stages[len(df.stages)-1], in)
	}
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a final one", len(df.stages))
	}
	return df
}

// find returns the stage's instructions named cmd.
func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// entrypoint returns the final stage's exec-form ENTRYPOINT.
func (df dockerfile) entrypoint(t *testing.T) []string {
	t.Helper()
	eps := find(df.stages[len(df.stages)-1], "ENTRYPOINT")
	if len(eps) != 1 {
		t.Fatalf("final stage: %d ENTRYPOINTs, want 1", len(eps))
	}
	var argv []string
	if err := json.Unmarshal([]byte(eps[0].args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("ENTRYPOINT %s is not the exec form (the binary must be PID 1 to get SIGTERM): %v", eps[0].args, err)
	}
	return argv
}

// goBuild returns the build stage's go build command: its environment
// assignments and its arguments.
func (df dockerfile) goBuild(t *testing.T) (env, argv []string) {
	t.Helper()
	for _, in := range find(df.stages[0], "RUN") {
		if !strings.Contains(in.args, "go build") {
			continue
		}
		words := shellWords(t, in.args)
		for i, w := range words {
			if w == "go" && i+1 < len(words) && words[i+1] == "build" {
				return words[:i], words[i:]
			}
		}
	}
	t.Fatal("Dockerfile: no RUN ... go build in the build stage")
	return nil, nil
}

// shellWords splits a simple command line: words separated by blanks,
// single and double quotes grouping; no expansions other than the caller's.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune(";&|<>", r):
			t.Fatalf("Dockerfile: the go build RUN line must be one plain command: %q", s)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDockerfile checks the image's shape and runs its build stage as plain
// commands: both examples build with the Dockerfile's exact go build line
// into static, stripped binaries, which then behave as the image's
// ENTRYPOINT must (serve, answer -healthcheck, drain on SIGTERM, exit 0).
func TestDockerfile(t *testing.T) {
	df := readDockerfile(t)
	final := df.stages[len(df.stages)-1]
	from := final[0].args
	if !(strings.Contains(from, "distroless/static") && strings.HasSuffix(from, ":nonroot")) && from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless static nonroot or scratch", from)
	}
	users := find(final, "USER")
	if len(users) == 0 || slices.Contains([]string{"root", "0", "root:root", "0:0"}, users[len(users)-1].args) {
		t.Errorf("final stage USER %v: want a non-root user", users)
	}
	ep := df.entrypoint(t)
	if len(ep) != 1 {
		t.Errorf("ENTRYPOINT %q: want the binary alone (flags go in CMD or the compose command)", ep)
	}
	copied := false
	for _, c := range find(final, "COPY") {
		f := strings.Fields(c.args)
		copied = copied || len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[2] == ep[0]
	}
	if !copied {
		t.Errorf("final stage does not COPY --from the build stage to %s", ep[0])
	}
	if !slices.ContainsFunc(find(df.stages[0], "ARG"), func(in instruction) bool { return in.args == "EXAMPLE=chat" }) {
		t.Error("build stage: no ARG EXAMPLE=chat choosing the example")
	}

	env, argv := df.goBuild(t)
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !slices.Contains(env, want) {
			t.Errorf("go build environment %q lacks %s", env, want)
		}
	}
	for _, want := range []string{"-trimpath", "-ldflags=-s -w", "-o", "./${EXAMPLE}"} {
		if !slices.Contains(argv, want) {
			t.Errorf("go build %q lacks %s", argv, want)
		}
	}
	out := argv[slices.Index(argv, "-o")+1]

	absRoot, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, example := range []string{"chat", "testserver"} {
		t.Run(example, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "server")
			args := slices.Clone(argv)
			for i, a := range args {
				a = strings.ReplaceAll(a, "${EXAMPLE}", example)
				a = strings.ReplaceAll(a, "$EXAMPLE", example)
				if a == out {
					a = bin
				}
				args[i] = a
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = filepath.Join(repoRoot, "examples") // the Dockerfile's WORKDIR
			cmd.Env = append(os.Environ(), env...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(append(env, args...), " "), err, b)
			}
			checkStaticBinary(t, bin, absRoot)

			// As the image runs it, on a loopback port.
			prefix := map[string]string{"chat": "/chat", "testserver": "/echo"}[example]
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			p := startProcess(t, bin, "-addr", addr)
			waitListening(t, addr)
			if b, err := exec.Command(bin, "-healthcheck", "http://"+addr+prefix+"/info").CombinedOutput(); err != nil {
				t.Errorf("-healthcheck of a running node: %v\n%s", err, b)
			}
			if err := exec.Command(bin, "-healthcheck", "http://"+addr+"/no-such-route/info").Run(); err == nil {
				t.Error("-healthcheck of a 404 exited 0")
			}
			start := time.Now()
			if err := p.terminate(t); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out.String())
			}
			t.Logf("exited 0 %v after SIGTERM", time.Since(start).Round(time.Millisecond))
			if err := exec.Command(bin, "-healthcheck", "http://"+addr+prefix+"/info").Run(); err == nil {
				t.Error("-healthcheck of a stopped node exited 0")
			}
		})
	}
}

// checkStaticBinary checks that bin is a static executable (no program
// interpreter, no shared libraries), stripped (-s: no symbol table) and
// built with -trimpath (the repository's directory is not in it).
func checkStaticBinary(t *testing.T, bin, root string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a program interpreter: not static (CGO_ENABLED=0?)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %q", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: not built with -ldflags='-s -w'")
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(root+string(filepath.Separator))) {
		t.Errorf("binary contains the build directory %s: not built with -trimpath", root)
	}
}

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Command     []string `yaml:"command"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn       map[string]struct{ Condition string } `yaml:"depends_on"`
	StopSignal      string                                `yaml:"stop_signal"`
	StopGracePeriod string                                `yaml:"stop_grace_period"`
	Volumes         []string                              `yaml:"volumes"`
	Ports           []string                              `yaml:"ports"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

var chatNodes = []string{"node1", "node2", "node3"}

// chatDrainTimeout reads the chat example's drain timeout from its source.
func chatDrainTimeout(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples/chat/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const drainTimeout = (\d+) \* time\.(Second|Millisecond|Minute)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("examples/chat/main.go: no `const drainTimeout = N * time.Unit`")
	}
	d, err := time.ParseDuration(string(m[1]) + map[string]string{"Second": "s", "Millisecond": "ms", "Minute": "m"}[string(m[2])])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestComposeFile checks docker-compose.yml: Redis with a health check,
// three chat nodes built from the Dockerfile that wait for a healthy
// Redis, check their own health and get longer than their drain timeout
// to stop, and a proxy waiting for healthy nodes with its mounted files
// present.
func TestComposeFile(t *testing.T) {
	c := readCompose(t)
	for _, name := range append([]string{"redis", "proxy"}, chatNodes...) {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: no service %s", name)
		}
	}

	redisSvc := c.Services["redis"]
	if redisSvc.Image != "redis:7-alpine" {
		t.Errorf("redis image %q", redisSvc.Image)
	}
	if redisSvc.Healthcheck == nil || !slices.Equal(redisSvc.Healthcheck.Test, []string{"CMD", "redis-cli", "ping"}) {
		t.Errorf("redis healthcheck %+v: want [CMD redis-cli ping]", redisSvc.Healthcheck)
	}

	df := readDockerfile(t)
	ep := df.entrypoint(t)
	drain := chatDrainTimeout(t)
	for _, name := range chatNodes {
		s := c.Services[name]
		if s.Build == nil || s.Build.Args["EXAMPLE"] != "chat" {
			t.Errorf("%s: build %+v: want the Dockerfile with EXAMPLE=chat", name, s.Build)
		} else {
			dockerfile := s.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if abs, _ := filepath.Abs(filepath.Join(repoRoot, s.Build.Context)); abs != mustAbs(t, repoRoot) {
				t.Errorf("%s: build context %q is not the repository root", name, s.Build.Context)
			}
			if !fileExists(filepath.Join(repoRoot, s.Build.Context, dockerfile)) {
				t.Errorf("%s: no %s in the build context", name, dockerfile)
			}
		}
		if got := s.DependsOn["redis"].Condition; got != "service_healthy" {
			t.Errorf("%s: depends_on redis condition %q, want service_healthy", name, got)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 4 ||
			s.Healthcheck.Test[0] != "CMD" || s.Healthcheck.Test[1] != ep[0] || s.Healthcheck.Test[2] != "-healthcheck" ||
			!strings.HasPrefix(s.Healthcheck.Test[3], "http://127.0.0.1:8080/") {
			t.Errorf("%s: healthcheck %+v: want [CMD %s -healthcheck http://127.0.0.1:8080/...]", name, s.Healthcheck, ep[0])
		}
		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil || grace <= drain {
			t.Errorf("%s: stop_grace_period %q (%v), want longer than the chat's drain timeout %v", name, s.StopGracePeriod, err, drain)
		}
		if s.StopSignal != "" && s.StopSignal != "SIGTERM" {
			t.Errorf("%s: stop_signal %s, the example drains on SIGTERM", name, s.StopSignal)
		}
		cmd := strings.Join(s.Command, " ")
		if !strings.Contains(cmd, "-addr :8080") || !strings.Contains(cmd, "-redis redis://redis:6379/") || !strings.Contains(cmd, "-node "+name) {
			t.Errorf("%s: command %q: want -addr :8080, -redis redis://redis:6379/..., -node %s", name, cmd, name)
		}
	}

	proxy := c.Services["proxy"]
	for _, n := range chatNodes {
		if got := proxy.DependsOn[n].Condition; got != "service_healthy" {
			t.Errorf("proxy: depends_on %s condition %q, want service_healthy (nginx resolves the node names at start)", n, got)
		}
	}
	for _, v := range proxy.Volumes {
		src, _, _ := strings.Cut(v, ":")
		if !fileExists(filepath.Join(repoRoot, src)) {
			t.Errorf("proxy: mounted file %s does not exist", src)
		}
	}
	upstream, err := os.ReadFile(filepath.Join(repoRoot, "deploy/nginx/compose/upstream.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range chatNodes {
		if !strings.Contains(string(upstream), "server "+n+":8080;") {
			t.Errorf("deploy/nginx/compose/upstream.conf does not list %s:8080", n)
		}
	}
	for _, bad := range []string{"ip_hash", "hash ", "sticky", "least_conn"} {
		if strings.Contains(string(upstream), bad) {
			t.Errorf("deploy/nginx/compose/upstream.conf uses %q: the proxy must be plain round robin", bad)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestComposeNginxConfig runs nginx -t on the exact files the compose
// proxy mounts, placed at their mount paths under a temporary root, with
// the proxy's own -p and -c moved under that root. nginx resolves upstream
// host names at start, as Docker's DNS would answer them for the compose
// services; the test gives it those names in a private /etc/hosts (a mount
// namespace, so root and unshare are needed; the machine's /etc/hosts is
// untouched). It skips without them, except in CI.
func TestComposeNginxConfig(t *testing.T) {
	nginx := lookPath(t, "nginx", "/usr/sbin")
	unshare := lookPath(t, "unshare", "/usr/bin")
	c := readCompose(t)
	proxy := c.Services["proxy"]

	root := t.TempDir()
	for _, v := range proxy.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("proxy volume %q", v)
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, parts[0]))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, parts[1])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The proxy's command, its paths under root, with -t for a test run.
	args := slices.Clone(proxy.Command)
	if len(args) == 0 || args[0] != "nginx" {
		t.Fatalf("proxy command %q: want nginx ...", args)
	}
	args = args[1:]
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-p" || args[i] == "-c" {
			args[i+1] = filepath.Join(root, args[i+1])
			if args[i] == "-p" {
				args[i+1] += "/"
			}
		}
		if args[i] == "-g" {
			args = slices.Delete(args, i, i+2) // daemon off: irrelevant to -t
			i--
		}
	}
	args = append([]string{"-t"}, args...)

	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	i := 10
	for name := range c.Services {
		fmt.Fprintf(&hosts, "192.0.2.%d %s\n", i, name) // TEST-NET-1: never routed
		i++
	}
	hostsFile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, []byte(hosts.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$1" /etc/hosts || exit 97; shift; exec "$@"`
	cmd := exec.Command(unshare, append([]string{"--mount", "sh", "-c", script, "sh", hostsFile, nginx}, args...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && (bytes.Contains(out, []byte("unshare failed")) || errors.As(err, &exit) && exit.ExitCode() == 97) {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot give nginx the compose host names (CI runs as root): %v\n%s", err, out)
		}
		t.Skipf("a private /etc/hosts needs root: %v\n%s", err, out)
	}
	if err != nil {
		t.Fatalf("nginx %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("nginx %s:\n%s", strings.Join(args, " "), out)
}

// TestNginxConfigStandalone runs nginx -t on deploy/nginx/nginx.conf where
// it is, with the local upstream.conf and listen.conf beside it and an
// empty prefix directory, as its header comment says to run it.
func TestNginxConfigStandalone(t *testing.T) {
	nginx := lookPath(t, "nginx", "/usr/sbin")
	conf := filepath.Join(mustAbs(t, repoRoot), "deploy/nginx/nginx.conf")
	out, err := exec.Command(nginx, "-t", "-p", t.TempDir()+"/", "-c", conf).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t -c %s: %v\n%s", conf, err, out)
	}
}
