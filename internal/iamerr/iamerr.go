// Package iamerr is the service's one error vocabulary. Every layer returns
// an *Error (or wraps one with %w) so that the API edge can map it to a
// Connect/gRPC code in one place, and so that every message a client sees
// names the field, the bad value and the fix.
package iamerr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind classifies an error for the API edge.
type Kind int

// The kinds of error the service reports. Internal is the zero value so that
// an unclassified error is never mistaken for a client's mistake.
const (
	Internal Kind = iota
	InvalidArgument
	NotFound
	AlreadyExists
	Conflict
	FailedPrecondition
	PermissionDenied
	Unauthenticated
	Unavailable
)

var kindNames = map[Kind]string{
	Internal:           "internal",
	InvalidArgument:    "invalid argument",
	NotFound:           "not found",
	AlreadyExists:      "already exists",
	Conflict:           "conflict",
	FailedPrecondition: "failed precondition",
	PermissionDenied:   "permission denied",
	Unauthenticated:    "unauthenticated",
	Unavailable:        "unavailable",
}

// String returns the kind's name, as used in messages and metrics.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified error. Field and Value name what was wrong, Problem
// says how, and Fix says what the caller can do about it.
type Error struct {
	Kind    Kind
	Field   string
	Value   string
	Problem string
	Fix     string

	// Cause is kept for logs and errors.Is; it is never shown to clients
	// of an Internal or Unavailable error.
	Cause error
}

// Error renders "field "value": problem; fix".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		fmt.Fprintf(&b, " %q: ", e.Value)
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Invalid reports a bad argument. The value is echoed bounded (Echo).
func Invalid(field, value, problem, fix string) *Error {
	return &Error{
		Kind: InvalidArgument, Field: field, Value: Echo(value),
		Problem: problem, Fix: fix,
	}
}

// New builds an error of any kind without a field.
func New(kind Kind, problem, fix string) *Error {
	return &Error{Kind: kind, Problem: problem, Fix: fix}
}

// Wrap classifies cause with kind and a public problem statement.
func Wrap(kind Kind, cause error, problem, fix string) *Error {
	return &Error{Kind: kind, Problem: problem, Fix: fix, Cause: cause}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool {
	return err != nil && KindOf(err) == kind
}

// MaxEchoedValue bounds the bad value an error repeats back, in bytes.
const MaxEchoedValue = 80

// Echo prepares a bad value for an error message: cut to MaxEchoedValue
// bytes at a character boundary, with "..." when cut, and invalid UTF-8
// replaced, so that the message and its details always encode.
func Echo(value string) string {
	value = strings.ToValidUTF8(value, "\uFFFD")
	if len(value) <= MaxEchoedValue {
		return value
	}
	cut := MaxEchoedValue
	for cut > 0 && !utf8.RuneStart(value[cut]) {
		cut--
	}
	return value[:cut] + "..."
}
