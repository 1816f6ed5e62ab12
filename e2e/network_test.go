package e2e

import (
	"net/netip"
	"testing"

	dc "github.com/ory/dockertest/v3/docker"
	"github.com/stretchr/testify/require"
)

func TestHostAddr(t *testing.T) {
	cases := []struct {
		name    string
		subnet  string
		n       int
		want    string
		wantErr bool
	}{
		{name: "gateway", subnet: "172.20.0.0/16", n: 1,
			want: "172.20.0.1"},
		{name: "past one octet", subnet: "172.20.0.0/16", n: 300,
			want: "172.20.1.44"},
		{name: "last host", subnet: "192.168.16.0/24", n: 254,
			want: "192.168.16.254"},
		{name: "broadcast", subnet: "192.168.16.0/24", n: 255,
			wantErr: true},
		{name: "network address", subnet: "192.168.16.0/24", n: 0,
			wantErr: true},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subnet := netip.MustParsePrefix(tc.subnet)

			got, err := hostAddr(subnet, tc.n)
			if tc.wantErr {
				require.Error(t, err)
				return
			}

			require.NoError(t, err)
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestIPv4Subnet(t *testing.T) {
	cases := []struct {
		name    string
		configs []dc.IPAMConfig
		want    string
		wantErr bool
	}{
		{name: "IPv4 only",
			configs: []dc.IPAMConfig{{Subnet: "172.21.0.0/16"}},
			want:    "172.21.0.0/16"},
		{name: "IPv6 first", configs: []dc.IPAMConfig{
			{Subnet: "fd00::/64"},
			{Subnet: "172.22.0.0/16"},
		}, want: "172.22.0.0/16"},
		{name: "none", wantErr: true},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ipv4Subnet(tc.configs)
			if tc.wantErr {
				require.Error(t, err)
				return
			}

			require.NoError(t, err)
			require.Equal(t, tc.want, got.String())
		})
	}
}
