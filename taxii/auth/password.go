package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters HashPassword uses (OWASP's 19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on argon2id parameters read from a config, so a typo cannot make
// every login allocate gigabytes.
const (
	maxArgonMemory  = 1 << 20 // KiB = 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
)

// HashPassword returns an argon2id PHC string for pw, for password_hash:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("hash password: empty password")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// HashAPIKey returns "sha256:<hex>" of key, for api_key_hash and
// misp_key_hash. A fast hash suits random keys of 128 bits or more; use
// HashPassword for anything a person chose.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewAPIKey returns a new random API key: 32 bytes from crypto/rand as
// unpadded base64url (43 characters, never a '.'), for api_key_env or, via
// HashAPIKey, api_key_hash.
func NewAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashKind is the family of a configured hash.
type hashKind int

const (
	hashSHA256 hashKind = iota + 1
	hashBcrypt
	hashArgon2id
)

// secretHash is a parsed password_hash, api_key_hash or misp_key_hash.
type secretHash struct {
	kind   hashKind
	bcrypt []byte // whole bcrypt string
	digest []byte // sha256 digest or argon2id key
	salt   []byte
	m, t   uint32
	p      uint8
}

// parseHash parses a configured hash; errors never include the hash itself.
func parseHash(s string, allowSHA256 bool) (*secretHash, error) {
	switch {
	case strings.HasPrefix(s, "sha256:"):
		if !allowSHA256 {
			return nil, errors.New("sha256: hashes are for API keys only; use bcrypt or argon2id for passwords")
		}
		d, err := hex.DecodeString(strings.TrimPrefix(s, "sha256:"))
		if err != nil || len(d) != sha256.Size {
			return nil, errors.New("malformed sha256: hash (want sha256: and 64 hex digits)")
		}
		return &secretHash{kind: hashSHA256, digest: d}, nil
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("malformed bcrypt hash: %v", err)
		}
		return &secretHash{kind: hashBcrypt, bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	}
	return nil, errors.New("unsupported hash: want bcrypt ($2a$, $2b$), argon2id ($argon2id$v=19$...) or, for keys, sha256:<hex>")
}

func parseArgon2id(s string) (*secretHash, error) {
	bad := func(why string) error { return fmt.Errorf("malformed argon2id hash: %s", why) }
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 {
		return nil, bad("want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, bad("version must be v=19")
	}
	h := &secretHash{kind: hashArgon2id}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, bad("parameters must be m=M,t=T,p=P")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return nil, bad("parameter " + k + " must be a positive integer")
		}
		switch k {
		case "m":
			if n > maxArgonMemory {
				return nil, bad("m above 1 GiB")
			}
			h.m, seen[0] = uint32(n), true
		case "t":
			if n > maxArgonTime {
				return nil, bad("t above 64")
			}
			h.t, seen[1] = uint32(n), true
		case "p":
			if n > maxArgonThreads {
				return nil, bad("p above 64")
			}
			h.p, seen[2] = uint8(n), true
		default:
			return nil, bad("unknown parameter " + k)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return nil, bad("m, t and p are all required")
	}
	if h.m < 8*uint32(h.p) {
		return nil, bad("m must be at least 8*p")
	}
	var err error
	if h.salt, err = decodeB64(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, bad("salt must be base64 of at least 8 bytes")
	}
	if h.digest, err = decodeB64(parts[5]); err != nil || len(h.digest) < 16 {
		return nil, bad("hash must be base64 of at least 16 bytes")
	}
	return h, nil
}

func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// verify reports whether secret matches h, in constant time for a given
// hash. Bcrypt and argon2id run through g, which bounds how many run at once.
func (h *secretHash) verify(secret string, g *gate) bool {
	switch h.kind {
	case hashSHA256:
		sum := sha256.Sum256([]byte(secret))
		return subtle.ConstantTimeCompare(sum[:], h.digest) == 1
	case hashBcrypt:
		return g.run(func() bool { return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(secret)) == nil })
	case hashArgon2id:
		return g.run(func() bool {
			key := argon2.IDKey([]byte(secret), h.salt, h.t, h.m, h.p, uint32(len(h.digest)))
			return subtle.ConstantTimeCompare(key, h.digest) == 1
		})
	}
	return false
}

// gate bounds concurrent bcrypt and argon2id computations (CPU and, for
// argon2id, m KiB of memory each) and reports each one to a hook.
type gate struct {
	sem  chan struct{}
	hook func()
}

func newGate(n int, hook func()) *gate {
	return &gate{sem: make(chan struct{}, max(n, 1)), hook: hook}
}

func (g *gate) run(f func() bool) bool {
	if g.hook != nil {
		g.hook()
	}
	g.sem <- struct{}{}
	defer func() { <-g.sem }()
	return f()
}
