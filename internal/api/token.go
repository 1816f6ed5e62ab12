package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/gpucloud/iam/internal/iamerr"
)

// tokenPrefix starts every token MintToken issues. It names the format, so
// that a later format can be told apart, and keeps signed tokens visibly
// different from the operator token.
const tokenPrefix = "iamd1."

// maxTokenLength bounds what is decoded from an untrusted header.
const maxTokenLength = 2048

// Token lifetimes MintToken accepts.
const (
	DefaultTokenTTL = time.Hour
	MaxTokenTTL     = 30 * 24 * time.Hour
)

// tokenClaims is the signed payload of a token.
type tokenClaims struct {
	// Subject is the principal, "kind:id".
	Subject string `json:"sub"`

	// Org is the organization the subject belonged to when the token
	// was minted. The token is good only while it still does: a
	// principal that moves to another organization leaves its tokens
	// behind.
	Org string `json:"org"`

	// IssuedAt and Expires are Unix seconds.
	IssuedAt int64 `json:"iat"`
	Expires  int64 `json:"exp"`
}

// tokenSigner mints and verifies "iamd1.<payload>.<signature>" tokens:
// the payload is base64url JSON claims, the signature base64url
// HMAC-SHA256 of "iamd1.<payload>" under the key.
type tokenSigner struct {
	key []byte
	now func() time.Time
}

// mint signs a token for subject, a member of org, valid for ttl.
func (s *tokenSigner) mint(subject, org string, ttl time.Duration) (string, time.Time) {
	now := s.now()
	expires := now.Add(ttl).Truncate(time.Second)
	claims, _ := json.Marshal(tokenClaims{
		Subject: subject, Org: org,
		IssuedAt: now.Unix(), Expires: expires.Unix(),
	})

	signed := tokenPrefix + base64.RawURLEncoding.EncodeToString(claims)
	return signed + "." + s.sign(signed), expires
}

func (s *tokenSigner) sign(signed string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verify returns the claims of a valid token. The signature is checked
// before the payload is parsed, so nothing unsigned is ever interpreted.
// A token without an organization, minted before tokens named one, is
// refused: it could follow its principal anywhere.
func (s *tokenSigner) verify(token string) (tokenClaims, error) {
	malformed := iamerr.New(iamerr.Unauthenticated,
		"the bearer token is malformed",
		"send the operator token or a token minted by MintToken")
	if len(token) > maxTokenLength || !strings.HasPrefix(token, tokenPrefix) {
		return tokenClaims{}, malformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(tokenPrefix) {
		return tokenClaims{}, malformed
	}
	signed, signature := token[:dot], token[dot+1:]

	if !hmac.Equal([]byte(signature), []byte(s.sign(signed))) {
		return tokenClaims{}, iamerr.New(iamerr.Unauthenticated,
			"the bearer token's signature is invalid: it was altered, or "+
				"minted with another signing key",
			"mint a new token")
	}

	payload, err := base64.RawURLEncoding.DecodeString(signed[len(tokenPrefix):])
	if err != nil {
		return tokenClaims{}, malformed
	}
	var claims tokenClaims
	if err := json.Unmarshal(payload, &claims); err != nil ||
		claims.Subject == "" || claims.Expires == 0 {
		return tokenClaims{}, malformed
	}
	if claims.Org == "" {
		return tokenClaims{}, iamerr.New(iamerr.Unauthenticated,
			"the bearer token names no organization: an older iamd "+
				"minted it", "mint a new token")
	}

	expires := time.Unix(claims.Expires, 0)
	if !s.now().Before(expires) {
		return tokenClaims{}, iamerr.New(iamerr.Unauthenticated,
			"the bearer token expired at "+expires.UTC().Format(time.RFC3339),
			"mint a new token")
	}
	return claims, nil
}

// digest hashes a secret so that comparing it takes the same time
// whatever its length.
func digest(secret string) [32]byte {
	return sha256.Sum256([]byte(secret))
}
