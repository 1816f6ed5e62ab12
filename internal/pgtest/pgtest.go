// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// binaries of Debian's postgresql package. Each server has its own data
// directory, listens on a free loopback port only, runs with the settings
// iamd requires in production (track_commit_timestamp, fsync), and is
// stopped and deleted when the test ends.
//
// initdb and postgres refuse to run as root, so when the tests run as root
// the server runs as the "postgres" OS user the package creates.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database and User name what each server is set up with: one superuser
// and one database, both named for the service.
const (
	Database = "iam"
	User     = "iam"
)

// How long the server may take to start or stop. Generous: CI machines
// have two cores and run several test binaries at once.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// errExited says the server stopped by itself while starting.
var errExited = errors.New("postgres exited during start")

// binGlob is where Debian installs each major version's server binaries.
const binGlob = "/usr/lib/postgresql/*/bin"

// Server is one throwaway PostgreSQL. Its methods fail the test on error.
type Server struct {
	bin      string
	dir      string
	port     int
	password string
	cred     *syscall.Credential

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{}
}

// Start initialises a data directory and starts PostgreSQL on it. The
// server is stopped and its files removed when the test ends. Without the
// PostgreSQL binaries the test is skipped, or fails when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()

	bin := findBinaries(t)
	cred := serverCredential(t)

	dir, err := os.MkdirTemp("", "iam-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: creating the data directory: %v", err)
	}
	s := &Server{bin: bin, dir: dir, cred: cred, password: randomPassword(t)}
	t.Cleanup(func() {
		s.kill()
		_ = os.RemoveAll(dir)
	})
	if cred != nil {
		err = os.Chown(dir, int(cred.Uid), int(cred.Gid))
		if err != nil {
			t.Fatalf("pgtest: giving %s to the postgres user: %v", dir, err)
		}
	}

	s.initdb(t)

	// A free port can be taken between the probe and the server's bind;
	// try a few before giving up.
	var lastErr error
	for range 3 {
		s.port = freePort(t)
		s.configure(t)
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("pgtest: starting PostgreSQL: %v", lastErr)
	}

	s.createDatabase(t)
	return s
}

// URI is the connection string of the test database, with its password,
// in the form iamd's --datastore-uri takes.
func (s *Server) URI() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(User, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + Database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the loopback port the server listens on; it stays the same
// across Stop and Start.
func (s *Server) Port() int { return s.port }

// Stop shuts the server down cleanly ("fast" mode: open connections are
// cut, committed transactions are kept). The data directory stays, so
// Start brings the same database back.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.signal(syscall.SIGINT); err != nil {
		t.Fatalf("pgtest: stopping PostgreSQL: %v", err)
	}
}

// Crash kills every server process with SIGKILL at once, as a power cut
// would (short of losing the operating system's cache). Start recovers
// the database from its write-ahead log.
func (s *Server) Crash(t testing.TB) {
	t.Helper()
	if err := s.signal(syscall.SIGKILL); err != nil {
		t.Fatalf("pgtest: killing PostgreSQL: %v", err)
	}
}

// Start starts a stopped server again on the same data directory and port.
func (s *Server) Start(t testing.TB) {
	t.Helper()

	// After Crash, postgres refuses to start while any killed process
	// still holds the old shared memory. That lasts moments; retry a
	// bounded number of times.
	var err error
	for range 40 {
		err = s.start()
		if !errors.Is(err, errExited) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: restarting PostgreSQL: %v", err)
	}
}

// Exec runs one SQL statement as the superuser, for tests that change a
// setting or inspect the database behind the service's back.
func (s *Server) Exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()

	conn, err := pgx.Connect(ctx, s.URI())
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()

	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// CopyTo copies the test database into dst's, which must be empty, with
// pg_dump and pg_restore: a logical backup restored elsewhere.
func (s *Server) CopyTo(t testing.TB, dst *Server) {
	t.Helper()
	dump := filepath.Join(s.dir, "copy.dump")

	out, err := s.command("pg_dump", "--format=custom", "--no-owner",
		"--file", dump, "--dbname", s.URI()).CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: pg_dump: %v\n%s", err, out)
	}
	defer func() { _ = os.Remove(dump) }()

	out, err = s.command("pg_restore", "--no-owner", "--exit-on-error",
		"--dbname", dst.URI(), dump).CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: pg_restore: %v\n%s", err, out)
	}
}

// Restart stops the server and starts it again, for settings that only
// take effect at server start.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

// findBinaries returns the bin directory of the newest installed major
// version, or ends the test: skipped on a developer's machine, failed in
// CI, where .ci/install-deps must have installed them.
func findBinaries(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob(binGlob)
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "initdb"))
		return err != nil
	})
	if len(dirs) > 0 {
		slices.SortFunc(dirs, byMajorVersion)
		return dirs[len(dirs)-1]
	}

	msg := "pgtest: no PostgreSQL server binaries in " + binGlob +
		"; install them with `apt-get install postgresql`," +
		" or run the whole suite with `bash .ci/run`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// byMajorVersion orders /usr/lib/postgresql/N/bin paths by N as a number,
// so that 9 sorts before 15.
func byMajorVersion(a, b string) int {
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		return n
	}
	return major(a) - major(b)
}

// serverCredential returns the OS user to run the server as: nil (this
// process's user) unless we are root, which PostgreSQL refuses.
func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}

	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("pgtest: running as root needs the postgres OS user,"+
			" which `apt-get install postgresql` creates: %v", err)
	}
	uid, errU := strconv.ParseUint(u.Uid, 10, 32)
	gid, errG := strconv.ParseUint(u.Gid, 10, 32)
	if errU != nil || errG != nil {
		t.Fatalf("pgtest: postgres user has non-numeric ids %s:%s", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func randomPassword(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: finding a free port: %v", err)
	}
	defer func() { _ = lis.Close() }()
	return lis.Addr().(*net.TCPAddr).Port
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// command builds a server-side command that runs as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"LC_ALL=C", "TZ=UTC", "PATH=" + s.bin}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// initdb creates the cluster: a superuser with a random password for TCP
// connections, the C locale, UTF-8.
func (s *Server) initdb(t testing.TB) {
	t.Helper()
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := s.writeFile(pwfile, s.password+"\n"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer func() { _ = os.Remove(pwfile) }()

	// --no-sync only skips flushing initdb's own files; the server itself
	// runs with fsync on.
	out, err := s.command("initdb",
		"-D", s.dataDir(),
		"-U", User,
		"--pwfile", pwfile,
		"--auth-host", "scram-sha-256",
		"--auth-local", "trust",
		"--no-locale", "-E", "UTF8",
		"--no-sync",
	).CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: initdb in %s (the server's OS user must be able"+
			" to reach it; set TMPDIR to a directory it can): %v\n%s",
			s.dir, err, out)
	}
}

// configure writes the settings every test server runs with. The Unix
// socket lives in the private directory so that it never meets the
// system's PostgreSQL.
func (s *Server) configure(t testing.TB) {
	t.Helper()
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
track_commit_timestamp = on
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 16MB
logging_collector = off
log_min_messages = warning
`, s.port, s.dir)

	// A later value of a setting wins, so appending overrides the
	// defaults initdb wrote; include_if_exists keeps the file ours.
	path := filepath.Join(s.dataDir(), "postgresql.conf")
	base, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	base, _, _ = bytes.Cut(base, []byte("\n# pgtest\n"))
	content := string(base) + "\n# pgtest\n" + conf
	if err := s.writeFile(path, content); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// writeFile writes a file the server's user owns.
func (s *Server) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	if s.cred != nil {
		return os.Chown(path, int(s.cred.Uid), int(s.cred.Gid))
	}
	return nil
}

// start runs postgres as a child of the test process and waits until it
// accepts connections. The child gets SIGKILL if the test process dies
// without cleaning up, so no server outlives its test binary.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}

	cmd := s.command("postgres", "-D", s.dataDir())
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// Its own process group lets Crash kill every server process at once,
	// as a power cut would, and keeps the test's terminal signals away.
	cmd.SysProcAttr.Setpgid = true
	logs := &logBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs

	// Pdeathsig fires when the thread that started the child exits, not
	// the process: keep that thread for the child's whole life.
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return err
	}

	if err := s.waitReady(done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w\n%s", err, logs.String())
	}
	s.proc, s.done = cmd, done
	return nil
}

// waitReady polls with a real login until the server answers, it exits,
// or startTimeout passes.
func (s *Server) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.adminURI())
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()

		select {
		case <-done:
			return errExited
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", startTimeout, err)
		}
	}
}

// adminURI reaches the maintenance database, which exists before the
// test database is created.
func (s *Server) adminURI() string {
	u, _ := url.Parse(s.URI())
	u.Path = "/postgres"
	return u.String()
}

func (s *Server) createDatabase(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()

	conn, err := pgx.Connect(ctx, s.adminURI())
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()

	if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", Database, err)
	}
}

// signal sends sig to the server and waits for it to exit. A server
// that ignores a clean shutdown for stopTimeout is killed.
func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	proc, done := s.proc, s.done
	s.mu.Unlock()
	if proc == nil {
		return errors.New("not running")
	}

	// SIGKILL goes to the whole process group: the postmaster's children
	// would otherwise live on until they notice it is gone.
	target := proc.Process.Pid
	if sig == syscall.SIGKILL {
		target = -target
	}
	if err := syscall.Kill(target, sig); err != nil {
		return err
	}
	var err error
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = proc.Process.Kill()
		<-done
		err = fmt.Errorf("did not stop within %s after %s; killed", stopTimeout, sig)
	}

	// The postmaster is gone; its children follow it at once, and the
	// next start waits for the shared memory they still hold.
	s.mu.Lock()
	s.proc = nil
	s.mu.Unlock()
	return err
}

// kill ends a running server at the end of the test. The data is thrown
// away, so there is no point in a clean shutdown.
func (s *Server) kill() {
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		_ = s.signal(syscall.SIGQUIT)
	}
}

// logBuffer collects the server's output while tests may read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
