package api

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"connectrpc.com/connect"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/iamerr"
)

// Request size limits, in bytes of request body, compressed or not, and
// again of the message once decompressed. Most methods take a few names;
// the list-carrying ones take up to the facade's limits (500 checks, 200
// raw updates, 100 rules); Apply takes a whole organization file.
const (
	MaxRequestBytes      = 64 << 10
	MaxListRequestBytes  = 1 << 20
	MaxApplyRequestBytes = bootstrap.MaxDocumentSize + 64<<10
)

// requestLimits are the methods allowed more than MaxRequestBytes.
var requestLimits = map[string]int64{
	iamv1connect.IAMServiceCheckBulkProcedure:          MaxListRequestBytes,
	iamv1connect.IAMServiceCreatePolicyProcedure:       MaxListRequestBytes,
	iamv1connect.IAMServiceReplacePolicyProcedure:      MaxListRequestBytes,
	iamv1connect.IAMServiceWriteRelationshipsProcedure: MaxListRequestBytes,
	iamv1connect.IAMServiceApplyProcedure:              MaxApplyRequestBytes,
}

// requestLimit returns the body limit of procedure.
func requestLimit(procedure string) int64 {
	if limit, ok := requestLimits[procedure]; ok {
		return limit
	}
	return MaxRequestBytes
}

// tooLarge is the error of a request over its limit. It is the client's
// mistake, so InvalidArgument: ResourceExhausted, Connect's own answer,
// tells clients to back off and retry, which cannot help. procedure is
// empty where it is not known.
func (h *handler) tooLarge(ctx context.Context, procedure string, limit int64) error {
	method := "this method"
	if procedure != "" {
		method = methodName(procedure)
	}
	return h.connectError(ctx, procedure, iamerr.New(iamerr.InvalidArgument,
		"the request is larger than the "+strconv.FormatInt(limit, 10)+
			"-byte limit of "+method,
		"send a smaller request: split lists over several calls, or an "+
			"organization file by organization"))
}

// limitBody bounds the request body of every RPC of next to limit bytes.
// Connect's own limit (WithReadMaxBytes) is not used: it answers
// ResourceExhausted, and for gRPC before reading the body.
func (h *handler) limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &limitedBody{
			ReadCloser: http.MaxBytesReader(w, r.Body, limit),
			tooLarge: func() error {
				return h.tooLarge(r.Context(), r.URL.Path, limit)
			},
		}
		next.ServeHTTP(w, r)
	})
}

// limitedBody turns the error of http.MaxBytesReader into the API's
// error. Connect passes a *connect.Error from the body through unchanged.
type limitedBody struct {
	io.ReadCloser
	tooLarge func() error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var over *http.MaxBytesError
	if errors.As(err, &over) {
		return n, b.tooLarge()
	}
	return n, err
}

// boundedGzip decompresses gzip requests, and fails once the message
// passes limit bytes: a small compressed body may expand without bound.
type boundedGzip struct {
	gzip.Reader
	limit, left int64
	tooLarge    func() error
}

// Reset starts on a new compressed message.
func (g *boundedGzip) Reset(r io.Reader) error {
	g.left = g.limit
	return g.Reader.Reset(r)
}

func (g *boundedGzip) Read(p []byte) (int, error) {
	n, err := g.Reader.Read(p)
	g.left -= int64(n)
	if g.left < 0 {
		return n, g.tooLarge()
	}
	return n, err
}

// gzipWithin replaces Connect's gzip support with one that decompresses
// at most limit bytes. A decompressor serves every method of its handler
// and has no request context: its error names neither, and only logged
// errors need the request ID.
func (h *handler) gzipWithin(limit int64) connect.HandlerOption {
	decompressor := func() connect.Decompressor {
		return &boundedGzip{limit: limit, tooLarge: func() error {
			return h.tooLarge(context.Background(), "", limit)
		}}
	}
	compressor := func() connect.Compressor { return gzip.NewWriter(io.Discard) }
	return connect.WithHandlerOptions(
		// Registering a name again would list it twice in the headers.
		connect.WithCompression("gzip", nil, nil),
		connect.WithCompression("gzip", decompressor, compressor),
	)
}
