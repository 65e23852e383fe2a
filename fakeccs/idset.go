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

// recentIDs remembers the hashes of a connection's latest RecentIDs
// downstream message ids, oldest evicted first: a FIFO ring plus an
// open-addressing table with linear probing and backward-shift deletion.
// It grows on demand, so an idle connection holds nothing, and allocates
// nothing once full.
type recentIDs struct {
	ring  []uint64 // insertion order; len grows to RecentIDs, then wraps at next
	next  int
	table []uint64 // power-of-two size, at most half full; 0 is empty
}

func (r *recentIDs) contains(h uint64) bool {
	if len(r.table) == 0 {
		return false
	}
	mask := uint64(len(r.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch r.table[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// add inserts h, which must not be present, evicting the oldest id when
// RecentIDs are remembered.
func (r *recentIDs) add(h uint64) {
	if len(r.ring) < RecentIDs {
		if 2*(len(r.ring)+1) > len(r.table) {
			r.grow()
		}
		r.ring = append(r.ring, h)
	} else {
		r.remove(r.ring[r.next])
		r.ring[r.next] = h
		r.next++
		if r.next == len(r.ring) {
			r.next = 0
		}
	}
	r.insert(h)
}

func (r *recentIDs) grow() {
	n := 2 * len(r.table)
	if n < 256 {
		n = 256
	}
	r.table = make([]uint64, n)
	for _, h := range r.ring {
		r.insert(h)
	}
	if cap(r.ring) < n/2 {
		ring := make([]uint64, len(r.ring), min(n/2, RecentIDs))
		copy(ring, r.ring)
		r.ring = ring
	}
}

func (r *recentIDs) insert(h uint64) {
	mask := uint64(len(r.table) - 1)
	i := h & mask
	for r.table[i] != 0 {
		i = (i + 1) & mask
	}
	r.table[i] = h
}

// remove deletes h from the table, shifting later entries of its probe run
// back so that lookups need no tombstones.
func (r *recentIDs) remove(h uint64) {
	t := r.table
	mask := uint64(len(t) - 1)
	i := h & mask
	for t[i] != h {
		if t[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	j := i
	for {
		t[i] = 0
		for {
			j = (j + 1) & mask
			if t[j] == 0 {
				return
			}
			k := t[j] & mask // the home slot of the entry at j
			// Leave it when its home lies cyclically in (i, j].
			if i <= j {
				if i < k && k <= j {
					continue
				}
			} else if i < k || k <= j {
				continue
			}
			break
		}
		t[i] = t[j]
		i = j
	}
}
