package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// Check decisions as counted by iamd_check_decisions_total.
const (
	decisionAllowed = "allowed"
	decisionDenied  = "denied"
	decisionError   = "error"
)

// metrics are the API's Prometheus metrics.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec

	// The decision counters, resolved once rather than looked up by
	// label on every check.
	allowed, denied, errored prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "iamd",
			Name:      "api_requests_total",
			Help:      "API calls by method and outcome code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "iamd",
			Name:      "api_request_duration_seconds",
			Help:      "Latency of API calls by method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05,
				.1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "iamd",
			Name:      "check_decisions_total",
			Help: "Answers of Check and CheckBulk, one per check: " +
				"allowed, denied or error.",
		}, []string{"decision"}),
	}

	for _, c := range []prometheus.Collector{m.requests, m.latency, m.decisions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: registering metrics: %w", err)
		}
	}
	// Resolving the decisions also exposes each from the start, so
	// that rates work from zero.
	m.allowed = m.decisions.WithLabelValues(decisionAllowed)
	m.denied = m.decisions.WithLabelValues(decisionDenied)
	m.errored = m.decisions.WithLabelValues(decisionError)
	return m, nil
}

// observe records one finished call of procedure.
func (m *metrics) observe(procedure string, start time.Time, err error) {
	method := methodName(procedure)
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	m.requests.WithLabelValues(method, code).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// decided counts check answers.
func (m *metrics) decided(allowed bool) {
	if allowed {
		m.allowed.Inc()
		return
	}
	m.denied.Inc()
}

// failed counts n checks that got no answer.
func (m *metrics) failed(n int) {
	m.errored.Add(float64(n))
}

// methodName is the last part of a procedure: "Check" for
// "/iam.v1.IAMService/Check".
func methodName(procedure string) string {
	return procedure[strings.LastIndexByte(procedure, '/')+1:]
}

// interceptor times and counts every RPC that passed authentication.
func (m *metrics) interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			resp, err := next(ctx, req)
			m.observe(req.Spec().Procedure, start, err)
			return resp, err
		}
	}
}
