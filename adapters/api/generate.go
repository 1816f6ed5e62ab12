// Package api holds the protobuf definition of iamd's API and the Go code
// generated from it. Regenerate with `go generate ./adapters/api/...`.
package api

//go:generate go tool buf generate
