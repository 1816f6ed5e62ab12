package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/engine"
)

func (cfg Config) validate() error {
	remote := cfg.SpiceDBEndpoint != ""
	switch {
	case cfg.Addr == "":
		return errors.New("--addr is empty; use host:port, e.g. " + DefaultAddr)
	case remote && (cfg.DatastoreURI != "" ||
		(cfg.DatastoreEngine != "" && cfg.DatastoreEngine != engine.MemoryDatastore)):
		return errors.New("--spicedb-endpoint uses a remote SpiceDB, which has " +
			"its own datastore; drop --datastore-engine and --datastore-uri")
	case !remote && (cfg.SpiceDBToken != "" || cfg.SpiceDBInsecure || cfg.SpiceDBCA != ""):
		return errors.New("--spicedb-token, --spicedb-insecure and --spicedb-ca " +
			"need --spicedb-endpoint")
	case remote && cfg.SpiceDBInsecure && cfg.SpiceDBCA != "":
		return errors.New("--spicedb-insecure and --spicedb-ca contradict " +
			"each other; choose one")
	case cfg.DatastoreEngine == engine.PostgresDatastore && cfg.DatastoreURI == "":
		return errors.New("--datastore-engine postgres needs --datastore-uri")
	case cfg.Migrate && cfg.DatastoreEngine != engine.PostgresDatastore:
		return errors.New("--migrate applies to --datastore-engine postgres " +
			"only; drop it")
	case cfg.OperatorToken != "" && cfg.OperatorTokenFile != "":
		return errors.New("--operator-token and --operator-token-file are both " +
			"set; choose one")
	case cfg.ReadTimeout < 0:
		return fmt.Errorf("--read-timeout is %s; use a positive duration "+
			"such as 1m, or 0 for the default", cfg.ReadTimeout)
	case cfg.RequestTimeout < 0:
		return fmt.Errorf("--request-timeout is %s; use a positive duration "+
			"such as 2m, or 0 for the default", cfg.RequestTimeout)
	}
	return nil
}

// operatorToken returns the configured operator token, or generates one
// and reports generated: the server then prints it to stderr once it
// listens, and never to the log, which may be shipped elsewhere.
func operatorToken(cfg Config, log *slog.Logger) (token string, generated bool, err error) {
	token = cfg.OperatorToken
	source := "--operator-token"
	if cfg.OperatorTokenFile != "" {
		data, err := os.ReadFile(cfg.OperatorTokenFile)
		if err != nil {
			return "", false, fmt.Errorf("reading the operator token file: %w", err)
		}
		token = strings.TrimSpace(string(data))
		source = "the operator token file " + cfg.OperatorTokenFile
	}

	if token == "" {
		token = randomToken()
		log.Warn("no operator token is set: generated one for this process " +
			"and printed it to stderr; set IAMD_OPERATOR_TOKEN or " +
			"--operator-token-file to keep it across restarts")
		return token, true, nil
	}

	if len(token) < api.MinOperatorTokenLength {
		return "", false, fmt.Errorf("%s is %d bytes long; use at least %d random "+
			"bytes, e.g. the output of `openssl rand -hex 32`",
			source, len(token), api.MinOperatorTokenLength)
	}
	return token, false, nil
}

// printTrialHint shows a generated operator token, once, with the commands
// that query the service: a newcomer's first start needs nothing else.
func printTrialHint(w io.Writer, addr, token string) error {
	_, err := fmt.Fprintf(w, `
iamd: operator token for this process (shown once):

    %[2]s

Query it from another shell, in the repository:

    export GOTOOLCHAIN=go1.27.3 IAMCTL_SERVER=http://%[1]s IAMCTL_TOKEN=%[2]s
    go run ./cmd/iamctl check --org ab1cd2 \
        --principal user:user-a@example.com --action cks.clusters.create
    curl -s -H "Authorization: Bearer $IAMCTL_TOKEN" \
        -H 'Content-Type: application/json' \
        -d '{"organization_id":"ab1cd2","principal":"user:user-a@example.com","action":"cks.clusters.create"}' \
        "$IAMCTL_SERVER/iam.v1.IAMService/Check"

`, addr, token)
	return err
}

// signingKey reads the key that signs minted tokens, or makes a random one
// that dies with the process.
func signingKey(path string, log *slog.Logger) ([]byte, error) {
	if path == "" {
		log.Warn("no --token-signing-key-file: signing tokens with a random " +
			"key; every minted token stops working when iamd stops")
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	}

	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the token signing key: %w", err)
	}
	key := bytes.TrimSpace(data)
	if len(key) < api.MinTokenKeyLength {
		return nil, fmt.Errorf("the token signing key in %s is %d bytes long; "+
			"use at least %d random bytes, e.g. the output of "+
			"`openssl rand -hex 32`", path, len(key), api.MinTokenKeyLength)
	}
	return key, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openEngine connects to a remote SpiceDB, or starts the embedded one.
func openEngine(ctx context.Context, cfg Config, log *slog.Logger) (*engine.Engine, error) {
	if cfg.SpiceDBEndpoint != "" {
		if cfg.SpiceDBInsecure {
			log.Warn("talking to SpiceDB without TLS; keep it to loopback "+
				"or a private network", "endpoint", cfg.SpiceDBEndpoint)
		}
		return engine.NewRemote(ctx, engine.RemoteConfig{
			Endpoint:   cfg.SpiceDBEndpoint,
			Token:      cfg.SpiceDBToken,
			Insecure:   cfg.SpiceDBInsecure,
			CACertPath: cfg.SpiceDBCA,
		})
	}

	if cfg.DatastoreEngine == "" || cfg.DatastoreEngine == engine.MemoryDatastore {
		log.Warn("using the memory datastore: nothing is persisted, and " +
			"every change is lost when iamd stops; use --datastore-engine " +
			"postgres or --spicedb-endpoint to keep data")
	}
	return engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: cfg.DatastoreEngine,
		DatastoreURI:    cfg.DatastoreURI,
		Migrate:         cfg.Migrate,
		Logger:          log,
	})
}

// warnIfExposed warns when the API, served without TLS, listens beyond
// loopback.
func warnIfExposed(addr net.Addr, log *slog.Logger) {
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return
	}
	log.Warn("serving the API without TLS on a non-loopback address; "+
		"put a TLS-terminating proxy in front of it", "addr", addr.String())
}

// NewLogger returns a logger writing to w at level ("debug", "info",
// "warn" or "error") in format ("text" or "json"), adding the request ID
// of a record's context.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}

	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
	return slog.New(api.NewLogHandler(h)), nil
}
