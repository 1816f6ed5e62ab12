package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecideDocker(t *testing.T) {
	down := errors.New("dial unix /var/run/docker.sock: no such file")

	cases := []struct {
		name    string
		ci      string
		pingErr error
		want    dockerVerdict
	}{
		{name: "engine up on CI", ci: "true", want: dockerRun},
		{name: "engine up elsewhere", ci: "", want: dockerRun},
		{name: "engine down on CI", ci: "true", pingErr: down,
			want: dockerFail},
		{name: "engine down elsewhere", ci: "", pingErr: down,
			want: dockerSkip},
		{name: "CI explicitly false", ci: "false", pingErr: down,
			want: dockerSkip},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decideDocker(tc.ci, tc.pingErr)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestOwnerAlive(t *testing.T) {
	self := processOwner()
	require.NotEmpty(t, self, "no /proc entry for this process")

	pid, _, _ := strings.Cut(self, "/")

	cases := []struct {
		name  string
		owner string
		want  bool
	}{
		{name: "this process", owner: self, want: true},
		{name: "same pid, other start time",
			owner: pid + "/1", want: false},
		{name: "no such process", owner: "2147483647/1", want: false},
		{name: "no label", owner: "", want: false},
		{name: "garbage", owner: "not-a-pid", want: false},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ownerAlive(tc.owner))
		})
	}
}
