// Package principal parses principal strings ("user:alice@example.com",
// "group:engineering", "serviceaccount:ci-bot") and owns the one reversible
// encoding between the IDs people use and SpiceDB object IDs.
package principal

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gpucloud/iam/internal/iamerr"
)

// Kind is the type of a principal.
type Kind string

// The three kinds of principal. Their values are also the SpiceDB object
// types that represent them.
const (
	User           Kind = "user"
	Group          Kind = "group"
	ServiceAccount Kind = "serviceaccount"
)

// MaxIDLength is the longest principal ID accepted, in bytes. Encoded, it
// stays well under SpiceDB's 1024-byte object ID limit.
const MaxIDLength = 256

// Principal is a user, group or service account, by its decoded ID. A
// group's ID is its name within its organization.
type Principal struct {
	Kind Kind
	ID   string
}

// String renders the principal as "kind:id", the form Parse accepts.
func (p Principal) String() string {
	return string(p.Kind) + ":" + p.ID
}

// kindSpellings maps accepted kind prefixes to kinds.
var kindSpellings = map[string]Kind{
	"user":            User,
	"group":           Group,
	"serviceaccount":  ServiceAccount,
	"service_account": ServiceAccount,
	"service-account": ServiceAccount,
	"sa":              ServiceAccount,
}

// Parse reads "kind:id". field names the request field in errors.
func Parse(field, s string) (Principal, error) {
	kindText, id, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Principal{}, iamerr.Invalid(field, s,
			"a principal must be written kind:id",
			"write user:<id>, group:<id> or serviceaccount:<id>")
	}

	kind, known := kindSpellings[strings.ToLower(kindText)]
	if !known {
		return Principal{}, iamerr.Invalid(field, s,
			fmt.Sprintf("unknown principal kind %q", kindText),
			"use user, group or serviceaccount")
	}

	if err := ValidateID(field, id); err != nil {
		return Principal{}, err
	}
	return Principal{Kind: kind, ID: id}, nil
}

// ValidateID checks a principal or group ID: non-empty, valid UTF-8, at
// most MaxIDLength bytes, and free of spaces and control characters.
func ValidateID(field, id string) error {
	switch {
	case id == "":
		return iamerr.Invalid(field, id, "the ID is empty",
			"give the principal's ID after the colon")
	case len(id) > MaxIDLength:
		return iamerr.Invalid(field, id,
			fmt.Sprintf("the ID is %d bytes long", len(id)),
			fmt.Sprintf("use at most %d bytes", MaxIDLength))
	case !utf8.ValidString(id):
		return iamerr.Invalid(field, id, "the ID is not valid UTF-8",
			"send the ID as UTF-8 text")
	}
	for _, r := range id {
		// Format characters (zero-width spaces, direction overrides, BOM)
		// render as nothing: they would let one ID pass for another.
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return iamerr.Invalid(field, id, fmt.Sprintf(
				"the ID contains white space or the invisible or "+
					"control character %U", r),
				"remove it")
		}
	}
	return nil
}

// EncodeID maps any ID to SpiceDB's object ID alphabet. Letters, digits,
// '-' and '_' stay as they are; every other byte becomes "=XX" in
// uppercase hex, so "a@b.c" becomes "a=40b=2Ec". The encoding never
// produces '/', which object IDs use as a separator.
func EncodeID(id string) string {
	var b strings.Builder
	b.Grow(len(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		if isPlain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
	return b.String()
}

// upperHex are the digits of EncodeID's escapes, which DecodeID requires
// in uppercase so that every ID has exactly one encoding.
const upperHex = "0123456789ABCDEF"

// DecodeID reverses EncodeID.
func DecodeID(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPlain(c) {
			b.WriteByte(c)
			continue
		}
		if c != '=' || i+2 >= len(s) {
			return "", fmt.Errorf("principal: bad encoded ID %q", s)
		}
		v, ok := unhex(s[i+1], s[i+2])
		if !ok || isPlain(v) {
			return "", fmt.Errorf("principal: bad encoded ID %q", s)
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c >= '0' && c <= '9' || c == '-' || c == '_'
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
