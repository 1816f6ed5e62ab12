package e2e

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGoImageKey(t *testing.T) {
	files := map[string]string{
		"go.mod": "module example.com/keytest\n\ngo 1.22\n",
		"main.go": "package main\n\n" +
			"import _ \"embed\"\n\n" +
			"//go:embed asset.txt\n" +
			"var asset string\n\n" +
			"func main() { println(asset) }\n",
		"asset.txt":    "first\n",
		"unused.txt":   "not part of the build\n",
		"tool/main.go": "package main\n\nfunc main() {}\n",
	}
	dockerfile := []byte("FROM scratch\n")

	cases := []struct {
		name       string
		file       string
		content    string
		dockerfile string
		extra      bool
		wantSame   bool
	}{
		{name: "nothing changed", wantSame: true},
		{name: "file outside the build", file: "unused.txt",
			content: "edited\n", wantSame: true},
		{name: "Go source", file: "main.go",
			content: files["main.go"] + "\n// edited\n"},
		{name: "embedded file", file: "asset.txt", content: "second\n"},
		{name: "Dockerfile", dockerfile: "FROM scratch\nUSER 1\n"},
		{name: "extra binary", extra: true},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range files {
				path := filepath.Join(dir, name)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			}

			t.Chdir(dir)
			t.Setenv("GOWORK", "off")

			spec := GoImage{
				Repository: "iam-e2e/keytest",
				Package:    "example.com/keytest",
			}

			before, err := goImageKey(t.Context(), spec, dockerfile)
			require.NoError(t, err)

			changed := dockerfile
			if tc.dockerfile != "" {
				changed = []byte(tc.dockerfile)
			}

			if tc.file != "" {
				path := filepath.Join(dir, tc.file)
				require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			}

			if tc.extra {
				spec.Extra = []string{"example.com/keytest/tool"}
			}

			after, err := goImageKey(t.Context(), spec, changed)
			require.NoError(t, err)

			if tc.wantSame {
				require.Equal(t, before, after)
			} else {
				require.NotEqual(t, before, after)
			}
		})
	}
}

func TestGoImageKeyReportsBrokenPackages(t *testing.T) {
	spec := GoImage{
		Repository: "iam-e2e/missing",
		Package:    "github.com/gpucloud/iam/no/such/package",
	}

	_, err := goImageKey(t.Context(), spec, nil)
	require.ErrorContains(t, err, "no/such/package")
}

func TestWriteScratchRootfs(t *testing.T) {
	dir := t.TempDir()
	iamd := filepath.Join(dir, "iamd")
	probe := filepath.Join(dir, "healthcheck")
	archive := filepath.Join(dir, "rootfs.tar")

	require.NoError(t, os.WriteFile(iamd, []byte("\x7fELF fake"), 0o600))
	require.NoError(t, os.WriteFile(probe, []byte("\x7fELF probe"), 0o600))
	require.NoError(t, writeScratchRootfs(archive, []string{iamd, probe}))

	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()

	type entry struct {
		mode    int64
		content string
	}

	got := map[string]entry{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}

		require.NoError(t, err)

		content, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.Zero(t, hdr.Uid, hdr.Name)
		require.Zero(t, hdr.Gid, hdr.Name)

		got[hdr.Name] = entry{mode: hdr.Mode, content: string(content)}
	}

	want := map[string]entry{
		"tmp/":               {mode: 0o1777},
		"usr/":               {mode: 0o755},
		"usr/local/":         {mode: 0o755},
		"usr/local/bin/":     {mode: 0o755},
		"usr/local/bin/iamd": {mode: 0o755, content: "\x7fELF fake"},
		"usr/local/bin/healthcheck": {mode: 0o755,
			content: "\x7fELF probe"},
	}
	require.Equal(t, want, got)
}
