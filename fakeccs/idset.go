package fakeccs

import (
	"hash/maphash"
	"sync"
)

// idShards is the number of shards of the server-wide id set.
const idShards = 256

// idSet is the server-wide set of 64-bit hashes of downstream message ids
// (Config.TrackIDs), sharded by the hash's top byte so that connections
// rarely wait for each other.
type idSet struct {
	shards [idShards]idShard
}

type idShard struct {
	mu          sync.Mutex
	m           map[uint64]struct{}
	unique, dup uint64
	_           [24]byte // keep shards on separate cache lines
}

func newIDSet() *idSet {
	s := &idSet{}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]struct{})
	}
	return s
}

// add records one reception of the id with hash h.
func (s *idSet) add(h uint64) {
	sh := &s.shards[h>>56]
	sh.mu.Lock()
	if _, ok := sh.m[h]; ok {
		sh.dup++
	} else {
		sh.m[h] = struct{}{}
		sh.unique++
	}
	sh.mu.Unlock()
}

// counts returns the number of distinct ids and of repeated receptions.
func (s *idSet) counts() (unique, dup uint64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		unique += sh.unique
		dup += sh.dup
		sh.mu.Unlock()
	}
	return unique, dup
}

// hashID hashes a message id; never 0 (0 marks empty table slots).
func hashID(seed maphash.Seed, id []byte) uint64 {
	h := maphash.Bytes(seed, id)
	if h == 0 {
		h = 1
	}
	return h
}

// recentIDs remembers the hashes of at least a connection's latest
// RecentIDs downstream message ids (at most twice as many): two
// generations of open-addressing tables, the current one filling up to
// RecentIDs entries and then becoming the old one while the previous old
// one is cleared for reuse. Nothing is ever deleted, so a lookup is two
// short probes and an insertion one; the tables grow on demand, so an idle
// connection holds nothing, and nothing is allocated once they are grown.
type recentIDs struct {
	cur, old []uint64 // power-of-two sizes, at most half full; 0 is empty
	n        int      // entries in cur
}

func (r *recentIDs) contains(h uint64) bool {
	return probe(r.cur, h) || probe(r.old, h)
}

func probe(t []uint64, h uint64) bool {
	if len(t) == 0 {
		return false
	}
	mask := uint64(len(t) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// add inserts h, which must not be present.
func (r *recentIDs) add(h uint64) {
	if r.n == RecentIDs {
		r.cur, r.old = r.old, r.cur
		clear(r.cur)
		r.n = 0
	}
	if 2*(r.n+1) > len(r.cur) {
		r.grow()
	}
	insert(r.cur, h)
	r.n++
}

// reset empties r, keeping its tables for reuse.
func (r *recentIDs) reset() {
	clear(r.cur)
	clear(r.old)
	r.n = 0
}

// grow doubles the current table (from 64 slots up to 2*RecentIDs).
func (r *recentIDs) grow() {
	t := make([]uint64, max(64, 2*len(r.cur)))
	for _, h := range r.cur {
		if h != 0 {
			insert(t, h)
		}
	}
	r.cur = t
}

func insert(t []uint64, h uint64) {
	mask := uint64(len(t) - 1)
	i := h & mask
	for t[i] != 0 {
		i = (i + 1) & mask
	}
	t[i] = h
}
