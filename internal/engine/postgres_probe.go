package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SpiceDB reports a datastore it cannot reach as an internal error (or
// an unknown one), the same codes as a bug. Callers must tell the two
// apart: an outage is "retry later", a bug is not. So when a call fails
// with one of those codes, the engine asks the datastore itself whether
// it answers, and reports Unavailable when it does not.
//
// An outage also outlives itself a little: pooled connections it broke
// fail once each when next used (the pool only pings connections idle
// for over a second). Errors shortly after an outage are its aftermath
// and are reported as Unavailable too.

// probeTimeout bounds one readiness probe, so that a datastore behind a
// network partition adds at most this much to a failing call.
const probeTimeout = 2 * time.Second

// probeReuse is how long one probe's answer serves every failing call:
// during an outage each request must not open its own connection.
const probeReuse = time.Second

// outageAftermath is how long after the datastore was last seen down an
// internal error is still blamed on the outage. SpiceDB's pools check
// their connections every 30 seconds by default.
const outageAftermath = 30 * time.Second

// datastoreProbe remembers whether the datastore answered lately.
type datastoreProbe struct {
	ds datastore.Datastore

	mu       sync.Mutex
	at       time.Time
	last     error
	lastDown time.Time
}

// down reports whether the datastore was seen down lately, and why it is
// not usable now (nil when it answers and is migrated).
func (p *datastoreProbe) down(ctx context.Context) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) >= probeReuse {
		p.last = p.probe(ctx)
		p.at = time.Now()
		if p.last != nil {
			p.lastDown = p.at
		}
	}
	recent := !p.lastDown.IsZero() &&
		time.Since(p.lastDown) < outageAftermath
	return recent, p.last
}

func (p *datastoreProbe) probe(ctx context.Context) error {
	// The caller's cancellation must not pass for an outage.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()

	state, err := p.ds.ReadyState(ctx)
	switch {
	case err != nil:
		return err
	case !state.IsReady:
		return errors.New(state.Message)
	}
	return nil
}

// classify turns err into Unavailable when it may come from the
// datastore and the datastore does not answer, or did not just now.
func (p *datastoreProbe) classify(ctx context.Context, err error) error {
	code := status.Code(err)
	if code != codes.Internal && code != codes.Unknown {
		return err
	}

	recent, cause := p.down(ctx)
	switch {
	case cause != nil:
		return status.Error(codes.Unavailable,
			fmt.Sprintf("the datastore is unavailable: %v", cause))
	case recent:
		return status.Error(codes.Unavailable, fmt.Sprintf(
			"the datastore was unavailable moments ago: %v",
			status.Convert(err).Message()))
	}
	return err
}

// unaryInterceptor classifies the errors of unary calls.
func (p *datastoreProbe) unaryInterceptor(
	ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		return nil
	}
	return p.classify(ctx, err)
}

// streamInterceptor classifies the errors of streaming calls, such as
// ReadRelationships, which arrive with a message rather than at the
// call.
func (p *datastoreProbe) streamInterceptor(
	ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, p.classify(ctx, err)
	}
	return &classifiedStream{ClientStream: stream, probe: p, ctx: ctx}, nil
}

type classifiedStream struct {
	grpc.ClientStream
	probe *datastoreProbe
	ctx   context.Context
}

func (s *classifiedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return s.probe.classify(s.ctx, err)
}
