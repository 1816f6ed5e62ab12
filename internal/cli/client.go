package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
)

// api is the generated client of iamd's API.
type api = iamv1connect.IAMServiceClient

// client builds the API client from the global flags. release frees
// its idle connections.
func (a *app) client() (c api, release func(), err error) {
	base, err := parseServer(a.server)
	if err != nil {
		return nil, nil, err
	}
	if err := checkToken(a.token); err != nil {
		return nil, nil, err
	}

	opts := []connect.ClientOption{
		connect.WithInterceptors(bearer(a.token)),
	}
	if a.grpc {
		opts = append(opts, connect.WithGRPC())
	}

	hc := httpClient(base, a.grpc)
	c = iamv1connect.NewIAMServiceClient(hc, base.String(), opts...)
	return c, hc.CloseIdleConnections, nil
}

// parseServer validates --server: an absolute http or https URL without
// credentials in it.
func parseServer(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--server %q: not an http:// or "+
			"https:// URL; write it like %s", raw, DefaultServer)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--server: the URL holds credentials; " +
			"remove them and pass the token with " + EnvToken)
	}
	return u, nil
}

// checkToken rejects a token that cannot travel in an HTTP header. The
// message never repeats the token.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("--token: the token holds a space "+
				"or a non-ASCII character at byte %d; check %s "+
				"or --token", i, EnvToken)
		}
	}
	return nil
}

// httpClient returns a client for the protocol. gRPC needs HTTP/2; over
// http:// that is HTTP/2 with prior knowledge (h2c). The Connect protocol
// works over any HTTP version, so it keeps the default transport.
func httpClient(base *url.URL, grpc bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if grpc && base.Scheme == "http" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	}
	return &http.Client{Transport: t}
}

// bearer adds the token to every request. Without a token nothing is
// added and the server decides what an anonymous caller may do.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(
			ctx context.Context, req connect.AnyRequest,
		) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

// call runs fn with a client and a context bounded by --timeout.
func (a *app) call(
	cmd *cobra.Command,
	fn func(context.Context, api) error,
) error {
	client, closeClient, err := a.client()
	if err != nil {
		return err
	}
	defer closeClient()

	ctx, cancel := a.context(cmd)
	defer cancel()
	return fn(ctx, client)
}

// done prints the answer of a write: a confirmation line in the table
// form, the whole response (with its consistency token) otherwise.
func (a *app) done(msg proto.Message, format string, args ...any) error {
	return a.print(msg, func(t *table) {
		t.row(fmt.Sprintf(format, args...))
	})
}
