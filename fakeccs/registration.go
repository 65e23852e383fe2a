package fakeccs

import (
	"math"
	"sync"
)

// What the fake answers for a registration id, whatever the connection:
// the final NACKs of Config.BadRegistration and Unregistered (glob
// patterns) and of BadRegistrationShare and UnregisteredShare (a hash of
// the id), and the per-device rate limit of Config.DeviceRate.

// deviceLimiter is a token bucket per registration id (by hash), shared by
// all connections, sharded to keep lock waits short.
type deviceLimiter struct {
	rate, burst float64 // tokens per ns, bucket size
	shards      [64]deviceShard
}

type deviceShard struct {
	mu sync.Mutex
	m  map[uint64]bucket
	_  [40]byte
}

type bucket struct {
	tokens float64
	last   int64
}

func newDeviceLimiter(perSecond float64) *deviceLimiter {
	d := &deviceLimiter{rate: perSecond / 1e9, burst: max(1, perSecond)}
	for i := range d.shards {
		d.shards[i].m = map[uint64]bucket{}
	}
	return d
}

// allow takes a token from the bucket of the device with hash h at time
// now (ns), reporting whether there was one.
func (d *deviceLimiter) allow(h uint64, now int64) bool {
	sh := &d.shards[h>>58]
	sh.mu.Lock()
	b, ok := sh.m[h]
	if !ok {
		if len(sh.m) >= MaxDevices/len(d.shards) {
			clear(sh.m)
		}
		b = bucket{tokens: d.burst, last: now}
	}
	b.tokens = min(d.burst, b.tokens+float64(now-b.last)*d.rate)
	b.last = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	sh.m[h] = b
	sh.mu.Unlock()
	return allowed
}

// shareCut maps a share (0..1) to a cut on 64-bit hashes.
func shareCut(f float64) uint64 {
	if f >= 1 {
		return math.MaxUint64
	}
	return uint64(f * (1 << 64))
}

// shareCode returns the NACK code index and description that
// Config.BadRegistrationShare and UnregisteredShare give registration id
// to, or -1. The hash is FNV-1a of the id mixed with Config.Seed
// (splitmix64's finalizer): the same id gets the same answer on every
// connection and in every run with the same seed.
func (s *Server) shareCode(to []byte) (int, []byte) {
	h := uint64(14695981039346656037)
	for _, b := range to {
		h = (h ^ uint64(b)) * 1099511628211
	}
	h ^= s.cfg.Seed
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	h ^= h >> 31
	switch {
	case h < s.shareBad:
		return s.ixBadRegistration, descBadRegistration
	case h < s.shareAny || s.shareAny == math.MaxUint64:
		return s.ixUnregistered, descUnregistered
	}
	return -1, nil
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// bytes (none included) and '?' any one byte; every other byte matches
// itself. It allocates nothing.
func globMatch(pattern string, s []byte) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchAny reports whether s matches one of the patterns.
func matchAny(patterns []string, s []byte) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}
