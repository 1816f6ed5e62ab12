package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTarFiles(t *testing.T) {
	archive, err := tarFiles([]File{
		{Path: "/etc/iamd/key", Content: []byte("k"), UID: 65532, GID: 65532},
		{Path: "/etc/iamd/boot.yaml", Content: []byte("b"), Mode: 0o444},
		{Path: "/top", Content: []byte("t")},
	})
	require.NoError(t, err)

	type entry struct {
		mode     int64
		uid, gid int
		content  string
	}

	got := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}

		require.NoError(t, err)

		content, err := io.ReadAll(tr)
		require.NoError(t, err)

		got[hdr.Name] = entry{hdr.Mode, hdr.Uid, hdr.Gid, string(content)}
	}

	want := map[string]entry{
		"etc/":               {mode: 0o755},
		"etc/iamd/":          {mode: 0o755},
		"etc/iamd/key":       {mode: 0o400, uid: 65532, gid: 65532, content: "k"},
		"etc/iamd/boot.yaml": {mode: 0o444, content: "b"},
		"top":                {mode: 0o400, content: "t"},
	}
	require.Equal(t, want, got)
}

func TestTarFilesRefusesRelativePaths(t *testing.T) {
	for _, path := range []string{"etc/key", "/etc/../key", "/etc/"} {
		_, err := tarFiles([]File{{Path: path}})
		require.ErrorContains(t, err, "absolute path", path)
	}
}

func TestComposeOwner(t *testing.T) {
	cases := []struct {
		project string
		want    string
	}{
		{project: composeProjectPrefix + "1234-98765-ab12", want: "1234/98765"},
		{project: composeProjectPrefix + "1234-98765", want: ""},
		{project: "iam-e2e-other-1234-98765-ab12", want: ""},
		{project: "deploy", want: ""},
	}

	for _, tc := range cases {
		t.Run(tc.project, func(t *testing.T) {
			require.Equal(t, tc.want, composeOwner(tc.project))
		})
	}
}
