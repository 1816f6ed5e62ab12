package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// recipeVersion is part of every image tag. Bump it when the way an
// image is put together changes in a way its inputs do not show.
const recipeVersion = "1"

// nonRootUser is the uid:gid that Go images run as: no image of the
// suite runs its service as root.
const nonRootUser = "65532:65532"

// staleImageAge protects an image of an older tag from removal while a
// concurrent run on the same machine may still be about to use it.
const staleImageAge = 10 * time.Minute

// The PostgreSQL image: Debian's suite and the major version it ships.
const (
	postgresRepository = "iam-e2e/postgres"
	postgresSuite      = "bookworm"
	postgresMajor      = "15"

	// postgresPassword is the password of the "postgres" role. The
	// server is only reachable on the run's private network and on
	// loopback, so a fixed test password is enough.
	postgresPassword = "iam-e2e"

	defaultDebianMirror = "http://deb.debian.org/debian"
)

//go:embed images/postgres-rootfs.sh
//go:embed images/postgres.Dockerfile
//go:embed images/scratch.Dockerfile
var imageFiles embed.FS

// GoImage describes an image made of static Go binaries on an empty
// base, run as a non-root user. The binaries are built from this
// module's build list, so a tool dependency (SpiceDB) and a package of
// this module (for iamd: Package "github.com/gpucloud/iam/cmd/iamd") are
// built the same way.
type GoImage struct {
	// Repository names the image without a tag, e.g. "iam-e2e/iamd".
	Repository string

	// Package is the import path of the main package to build. The
	// binary is /usr/local/bin/NAME, NAME being the path's last element,
	// and is the image's entrypoint.
	Package string

	// Extra are more main packages whose binaries go beside Package's,
	// such as the health probe that Compose's health checks run.
	Extra []string

	// Dockerfile, when set, is the path from the module's root of a
	// Dockerfile to build with instead of the harness's own. Its build
	// context holds the binaries, each under its NAME, and nothing
	// else. Without it, the image is the binaries, an empty /tmp, the
	// non-root user and Package's binary as the entrypoint.
	Dockerfile string
}

// healthcheckPackage is the probe that health checks run inside the
// images, which hold no shell.
const healthcheckPackage = "github.com/gpucloud/iam/deploy/healthcheck"

// spicedbImage is the SpiceDB server at the version pinned in go.mod.
var spicedbImage = GoImage{
	Repository: "iam-e2e/spicedb",
	Package:    "github.com/authzed/spicedb/cmd/spicedb",
	Extra:      []string{healthcheckPackage},
}

// iamdImage is iamd, built from the Dockerfile that deploy/ ships, so
// that the suite proves that file as well.
var iamdImage = GoImage{
	Repository: "iam-e2e/iamd",
	Package:    "github.com/gpucloud/iam/cmd/iamd",
	Extra:      []string{healthcheckPackage},
	Dockerfile: "deploy/Dockerfile",
}

// Images names the images, as repository:tag, that a cluster runs.
type Images struct {
	// SpiceDB is the SpiceDB server image.
	SpiceDB string

	// Postgres is the PostgreSQL server image.
	Postgres string
}

// builtImages keeps the outcome of the first BuildImages of the process:
// the inputs do not change during a run.
var builtImages struct {
	once   sync.Once
	images Images
	err    error
}

// BuildImages returns the images a cluster needs, building those that
// this machine does not have yet. The work is done once per process;
// a failure fails every test that asks.
func BuildImages(t testing.TB, pool *dockertest.Pool) Images {
	t.Helper()

	builtImages.once.Do(func() {
		// Builds must survive the test that happened to start them.
		ctx, cancel := context.WithTimeout(
			context.Background(), 30*time.Minute)
		defer cancel()

		start := time.Now()
		builtImages.images, builtImages.err = buildImages(ctx, pool)
		if builtImages.err == nil {
			t.Logf("e2e: images ready in %s: %+v",
				time.Since(start).Round(time.Millisecond),
				builtImages.images)
		}
	})

	if builtImages.err != nil {
		t.Fatalf("e2e: build images: %v", builtImages.err)
	}

	return builtImages.images
}

// buildImages builds the SpiceDB and PostgreSQL images side by side: the
// first is mostly compiling, the second mostly downloading.
func buildImages(
	ctx context.Context,
	pool *dockertest.Pool,
) (Images, error) {
	var (
		wg     sync.WaitGroup
		images Images
		errs   [2]error
	)

	wg.Go(func() {
		images.SpiceDB, errs[0] = BuildGoImage(ctx, pool, spicedbImage)
	})
	wg.Go(func() {
		images.Postgres, errs[1] = BuildPostgresImage(ctx, pool)
	})
	wg.Wait()

	return images, errors.Join(errs[:]...)
}

// BuildGoImage returns the reference of the image described by spec,
// building the binaries and the image only when the engine has no image
// tagged with the hash of their inputs: the Go toolchain, the versions
// of the modules compiled in, the contents of the source files that have
// no version (this module's), and the image recipe. The image is also
// tagged REPOSITORY:latest, the name deploy/docker-compose.yaml runs.
func BuildGoImage(
	ctx context.Context,
	pool *dockertest.Pool,
	spec GoImage,
) (string, error) {
	if spec.Repository == "" || spec.Package == "" {
		return "", fmt.Errorf(
			"go image %+v: Repository and Package are required", spec)
	}

	dockerfile, err := goDockerfile(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("go image %s: %w", spec.Repository, err)
	}

	key, err := goImageKey(ctx, spec, dockerfile)
	if err != nil {
		return "", fmt.Errorf("go image %s: %w", spec.Repository, err)
	}

	ref := spec.Repository + ":" + key
	prepare := func(ctx context.Context, dir string) error {
		return prepareGoImage(ctx, spec, dockerfile, dir)
	}

	err = ensureImage(ctx, pool, ref, prepare)
	if err != nil {
		return "", err
	}

	return ref, nil
}

// goDockerfile returns the Dockerfile of spec: the file it names, or the
// harness's own, filled in.
func goDockerfile(ctx context.Context, spec GoImage) ([]byte, error) {
	if spec.Dockerfile == "" {
		return renderImageFile("images/scratch.Dockerfile", map[string]string{
			"User":   nonRootUser,
			"Binary": path.Base(spec.Package),
			"Label":  labelSuite,
			"Repo":   spec.Repository,
		})
	}

	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}

	return os.ReadFile(filepath.Join(root, spec.Dockerfile))
}

// moduleRoot is the folder of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := runGo(ctx, nil, "env", "GOMOD")
	if err != nil {
		return "", err
	}

	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}

	return filepath.Dir(gomod), nil
}

// goBuildEnv is the environment of every go command of the harness:
// static binaries for the engine's Linux.
func goBuildEnv() []string {
	return []string{
		"CGO_ENABLED=0",
		"GOOS=linux",
		"GOARCH=" + runtime.GOARCH,
	}
}

// listedPackage is the part of `go list -json` that decides what a
// package compiles to.
type listedPackage struct {
	ImportPath     string
	Dir            string
	Standard       bool
	DefaultGODEBUG string
	GoFiles        []string
	SFiles         []string
	SysoFiles      []string
	EmbedFiles     []string
	Module         *struct {
		Path    string
		Version string
		Replace *struct {
			Path    string
			Version string
		}
	}
	Error *struct {
		Err string
	}
}

// goImageKey hashes what the binary of spec and its image are made of.
func goImageKey(
	ctx context.Context,
	spec GoImage,
	dockerfile []byte,
) (string, error) {
	env := goBuildEnv()

	version, err := runGo(ctx, env, "env", "GOVERSION")
	if err != nil {
		return "", err
	}

	packages := append([]string{spec.Package}, spec.Extra...)
	listed, err := runGo(ctx, env, append([]string{"list", "-deps",
		"-json=ImportPath,Dir,Standard,DefaultGODEBUG," +
			"GoFiles,SFiles,SysoFiles,EmbedFiles,Module,Error"},
		packages...)...)
	if err != nil {
		return "", err
	}

	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\n", recipeVersion)
	fmt.Fprintf(h, "go %s %s\n", bytes.TrimSpace(version), env)
	fmt.Fprintf(h, "goflags %q\n", os.Getenv("GOFLAGS"))
	fmt.Fprintf(h, "packages %q\n", packages)
	fmt.Fprintf(h, "dockerfile %x\n", sha256.Sum256(dockerfile))

	dec := json.NewDecoder(bytes.NewReader(listed))
	for dec.More() {
		var p listedPackage
		err := dec.Decode(&p)
		if err != nil {
			return "", fmt.Errorf("decode go list: %w", err)
		}

		err = hashPackage(h, p)
		if err != nil {
			return "", err
		}
	}

	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// hashPackage adds one package of the build to h. A versioned module is
// named by its version, which the checksum database pins; the standard
// library by the toolchain, hashed already. Anything else is this
// module's or a local replacement: its files are hashed.
func hashPackage(h hash.Hash, p listedPackage) error {
	if p.Error != nil {
		return fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
	}

	fmt.Fprintf(h, "pkg %s godebug=%q\n", p.ImportPath, p.DefaultGODEBUG)

	if p.Standard {
		return nil
	}

	if v := p.moduleVersion(); v != "" {
		fmt.Fprintf(h, "mod %s\n", v)
		return nil
	}

	files := slices.Concat(p.GoFiles, p.SFiles, p.SysoFiles, p.EmbedFiles)
	for _, name := range files {
		content, err := os.ReadFile(filepath.Join(p.Dir, name))
		if err != nil {
			return fmt.Errorf("hash %s: %w", p.ImportPath, err)
		}

		fmt.Fprintf(h, "file %s %x\n", name, sha256.Sum256(content))
	}

	return nil
}

// moduleVersion is "path@version" of the module that provides p, or ""
// when its code has no version.
func (p listedPackage) moduleVersion() string {
	m := p.Module
	if m == nil {
		return ""
	}

	if m.Replace != nil {
		if m.Replace.Version == "" {
			return ""
		}

		return m.Replace.Path + "@" + m.Replace.Version
	}

	if m.Version == "" {
		return ""
	}

	return m.Path + "@" + m.Version
}

// prepareGoImage fills dir, the build context, with the Dockerfile and
// the freshly built binaries: as they are for a Dockerfile of spec's, in
// a root filesystem archive for the harness's own.
func prepareGoImage(
	ctx context.Context,
	spec GoImage,
	dockerfile []byte,
	dir string,
) error {
	bin := filepath.Join(dir, "bin")
	packages := append([]string{spec.Package}, spec.Extra...)

	// One go build links every binary and shares their compilation.
	_, err := runGo(ctx, goBuildEnv(), append([]string{
		"build", "-ldflags=-s -w", "-o", bin + string(filepath.Separator),
	}, packages...)...)
	if err != nil {
		return err
	}

	binaries := make([]string, len(packages))
	for i, pkg := range packages {
		binaries[i] = filepath.Join(bin, path.Base(pkg))
	}

	if spec.Dockerfile != "" {
		for _, binary := range binaries {
			dst := filepath.Join(dir, filepath.Base(binary))
			err := os.Rename(binary, dst)
			if err != nil {
				return err
			}
		}
	} else {
		err = writeScratchRootfs(
			filepath.Join(dir, "rootfs.tar"), binaries)
		if err != nil {
			return err
		}
	}

	// The context is sent to the engine whole: nothing else may stay.
	err = os.RemoveAll(bin)
	if err != nil {
		return err
	}

	return os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644)
}

// runGo runs the go command with env added to this process's, and
// returns its standard output. Its error carries the command's stderr.
func runGo(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), env...)

	var stderr bytes.Buffer
	cmd.Stderr = &stderr

	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s",
			strings.Join(args, " "), err, stderr.Bytes())
	}

	return out, nil
}

// BuildPostgresImage returns the reference of the PostgreSQL image,
// building it when the engine lacks it. The image's root filesystem is
// made from Debian's packages by images/postgres-rootfs.sh (debootstrap,
// then the postgresql package in a chroot) and cached as an archive in
// the cache folder, so that an engine that lost its images gets them
// back without downloading again. The tag hashes the script, the
// Dockerfile and their parameters.
func BuildPostgresImage(
	ctx context.Context,
	pool *dockertest.Pool,
) (string, error) {
	script, err := imageFiles.ReadFile("images/postgres-rootfs.sh")
	if err != nil {
		return "", err
	}

	dockerfile, err := renderImageFile("images/postgres.Dockerfile", map[string]string{
		"Major": postgresMajor,
		"Label": labelSuite,
		"Repo":  postgresRepository,
	})
	if err != nil {
		return "", err
	}

	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\n", recipeVersion)
	fmt.Fprintf(h, "script %x\n", sha256.Sum256(script))
	fmt.Fprintf(h, "dockerfile %x\n", sha256.Sum256(dockerfile))
	fmt.Fprintf(h, "debian %s postgresql %s password %s\n",
		postgresSuite, postgresMajor, postgresPassword)
	key := hex.EncodeToString(h.Sum(nil))[:24]

	ref := postgresRepository + ":" + key
	prepare := func(ctx context.Context, dir string) error {
		rootfs, err := postgresRootfs(ctx, key, script)
		if err != nil {
			return err
		}

		err = linkOrCopy(rootfs, filepath.Join(dir, "rootfs.tar.gz"))
		if err != nil {
			return err
		}

		return os.WriteFile(
			filepath.Join(dir, "Dockerfile"), dockerfile, 0o644)
	}

	err = ensureImage(ctx, pool, ref, prepare)
	if err != nil {
		return "", err
	}

	return ref, nil
}

// postgresRootfs returns the path of the cached root filesystem archive
// for key, running the script when it is missing. Archives of other keys
// are removed: only the current recipe is worth the disk.
func postgresRootfs(
	ctx context.Context,
	key string,
	script []byte,
) (string, error) {
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}

	prefix := filepath.Join(dir, "postgres-rootfs-")
	archive := prefix + key + ".tar.gz"

	_, err = os.Stat(archive)
	if err == nil {
		return archive, nil
	}

	scriptPath := prefix + key + ".sh"
	err = os.WriteFile(scriptPath, script, 0o755)
	if err != nil {
		return "", err
	}
	defer os.Remove(scriptPath)

	logPath := prefix + key + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close()

	mirror := os.Getenv("IAM_E2E_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = defaultDebianMirror
	}

	cmd := exec.CommandContext(ctx, "bash", scriptPath,
		archive, postgresSuite, postgresMajor, mirror)
	cmd.Env = append(os.Environ(), "E2E_PG_PASSWORD="+postgresPassword)
	cmd.Stdout = logFile
	cmd.Stderr = logFile

	err = cmd.Run()
	if err != nil {
		return "", fmt.Errorf(
			"postgres root filesystem: %w; the end of %s:\n%s",
			err, logPath, tailOfFile(logPath, 30))
	}

	old, _ := filepath.Glob(prefix + "*")
	for _, name := range old {
		if !strings.HasPrefix(name, prefix+key) {
			os.Remove(name)
		}
	}

	return archive, nil
}

// ensureImage makes sure the engine has ref, calling prepare to fill a
// build context folder when it has not. A lock per repository in the
// cache folder keeps concurrent runs on one machine from building the
// same image twice.
func ensureImage(
	ctx context.Context,
	pool *dockertest.Pool,
	ref string,
	prepare func(ctx context.Context, dir string) error,
) error {
	err := buildMissingImage(ctx, pool, ref, prepare)
	if err != nil {
		return err
	}

	// A stable name for people and for the Compose file; the hashed tag
	// stays what the suite itself runs.
	repo, _, _ := strings.Cut(ref, ":")
	err = pool.Client.TagImage(ref, dc.TagImageOptions{
		Repo:    repo,
		Tag:     "latest",
		Force:   true,
		Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("tag %s as %s:latest: %w", ref, repo, err)
	}

	return nil
}

// buildMissingImage builds ref when the engine lacks it; see
// ensureImage.
func buildMissingImage(
	ctx context.Context,
	pool *dockertest.Pool,
	ref string,
	prepare func(ctx context.Context, dir string) error,
) error {
	exists, err := imageExists(pool, ref)
	if err != nil || exists {
		return err
	}

	dir, err := cacheDir()
	if err != nil {
		return err
	}

	repo, _, _ := strings.Cut(ref, ":")
	lockName := strings.ReplaceAll(repo, "/", "_") + ".lock"

	unlock, err := lockFile(ctx, filepath.Join(dir, lockName))
	if err != nil {
		return err
	}
	defer unlock()

	// Another run may have built it while this one waited.
	exists, err = imageExists(pool, ref)
	if err != nil || exists {
		return err
	}

	contextDir, err := os.MkdirTemp(dir, "context-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(contextDir)

	err = prepare(ctx, contextDir)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}

	var out bytes.Buffer
	err = pool.Client.BuildImage(dc.BuildImageOptions{
		Name:                ref,
		ContextDir:          contextDir,
		Dockerfile:          "Dockerfile",
		OutputStream:        &out,
		RmTmpContainer:      true,
		ForceRmTmpContainer: true,
		Version:             "1",
		// A Dockerfile of deploy/ does not carry the suite's label.
		Labels:  map[string]string{labelSuite: repo},
		Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", ref, err, out.Bytes())
	}

	pruneImages(ctx, pool, repo, ref)

	return nil
}

// imageExists tells whether the engine has an image named ref.
func imageExists(pool *dockertest.Pool, ref string) (bool, error) {
	_, err := pool.Client.InspectImage(ref)
	if errors.Is(err, dc.ErrNoSuchImage) {
		return false, nil
	}

	if err != nil {
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}

	return true, nil
}

// pruneImages removes the suite's older images of repo, other than keep,
// so that each change of inputs does not leave a large image behind.
// It is best effort: an image that a container still uses stays.
func pruneImages(
	ctx context.Context,
	pool *dockertest.Pool,
	repo string,
	keep string,
) {
	images, err := pool.Client.ListImages(dc.ListImagesOptions{
		Filters: map[string][]string{
			"label":     {labelSuite},
			"reference": {repo},
		},
		Context: ctx,
	})
	if err != nil {
		return
	}

	for _, img := range images {
		created := time.Unix(img.Created, 0)
		if time.Since(created) < staleImageAge {
			continue
		}

		for _, tag := range img.RepoTags {
			if tag == keep {
				continue
			}

			_ = pool.Client.RemoveImageExtended(tag,
				dc.RemoveImageOptions{Context: ctx})
		}
	}
}

// renderImageFile fills the template of an embedded image file.
func renderImageFile(name string, data map[string]string) ([]byte, error) {
	text, err := imageFiles.ReadFile(name)
	if err != nil {
		return nil, err
	}

	tmpl, err := template.New(name).
		Option("missingkey=error").
		Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}

	var out bytes.Buffer
	err = tmpl.Execute(&out, data)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}

	return out.Bytes(), nil
}

// cacheDir is the folder for artefacts that outlive a run.
func cacheDir() (string, error) {
	dir := os.Getenv("IAM_E2E_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf(
				"no cache folder (set IAM_E2E_CACHE): %w", err)
		}

		dir = filepath.Join(base, "gpucloud-iam-e2e")
	}

	err := os.MkdirAll(dir, 0o755)
	if err != nil {
		return "", err
	}

	return dir, nil
}

// lockFile takes an exclusive lock on the file at path, waiting while
// another process holds it, until ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}

	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}

		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}

		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}

	unlock := func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}

	return unlock, nil
}

// linkOrCopy makes dst a hard link to src, or a copy where a link cannot
// be made (another file system).
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}

	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()

	out, err := os.Create(dst)
	if err != nil {
		return err
	}

	_, err = io.Copy(out, in)
	if err != nil {
		out.Close()
		return err
	}

	return out.Close()
}

// tailOfFile returns the last n lines of a file, for error messages.
func tailOfFile(path string, n int) string {
	content, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}

	lines := strings.Split(strings.TrimRight(string(content), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}

	return strings.Join(lines, "\n")
}

// writeScratchRootfs writes the root filesystem of a Go image as a tar
// archive: each binary under its own name in /usr/local/bin, and a
// world-writable /tmp with the sticky bit, which Go's os.TempDir expects
// to exist.
func writeScratchRootfs(archive string, binaries []string) error {
	out, err := os.Create(archive)
	if err != nil {
		return err
	}
	defer out.Close()

	// A fixed time keeps the archive the same for the same binaries.
	modTime := time.Unix(0, 0)

	tw := tar.NewWriter(out)
	dirs := []struct {
		name string
		mode int64
	}{
		{"tmp/", 0o1777},
		{"usr/", 0o755},
		{"usr/local/", 0o755},
		{"usr/local/bin/", 0o755},
	}

	for _, d := range dirs {
		err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir,
			Name:     d.name,
			Mode:     d.mode,
			ModTime:  modTime,
		})
		if err != nil {
			return err
		}
	}

	for _, binary := range binaries {
		err := addFile(tw, binary, modTime)
		if err != nil {
			return err
		}
	}

	err = tw.Close()
	if err != nil {
		return err
	}

	return out.Close()
}

// addFile adds the executable at path to tw as /usr/local/bin/NAME.
func addFile(tw *tar.Writer, path string, modTime time.Time) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()

	info, err := in.Stat()
	if err != nil {
		return err
	}

	err = tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "usr/local/bin/" + filepath.Base(path),
		Mode:     0o755,
		Size:     info.Size(),
		ModTime:  modTime,
	})
	if err != nil {
		return err
	}

	_, err = io.Copy(tw, in)

	return err
}
