package driver

import "sync/atomic"

// sample is one ACK's service and response times, in µs (histLo..histHi).
type sample struct{ svc, rsp uint32 }

// batchLen is the number of samples in a batch: a batch is 1 KiB.
const batchLen = 126

// sampleBatch is a block of samples a reader recorded, for the collector
// to put into the interval histograms. Batches are chained through next:
// a reader's current chain (newest first, only the head being filled), a
// chain the collector drains, and a lane's list of spare batches.
type sampleBatch struct {
	next atomic.Pointer[sampleBatch]
	n    int
	s    [batchLen]sample
}

// record adds one ACK's service and response times (ns) to the current
// chain of samples, without a lock. gen is odd while it records: it is
// incremented before cur is read, and the collector stores cur before it
// reads gen (collector.collect), so either this record sees the flipped
// cur, or the collector sees gen odd and waits until the record into the
// old chain is done. A new batch is linked (next) before it is published
// as the head, so the collector, which takes the full batches behind the
// head, never sees a batch the reader still writes.
func (p *pconn) record(svc, rsp int64) {
	p.gen.Add(1)
	head := &p.ivl[p.cur.Load()]
	b := head.Load()
	if b == nil || b.n == batchLen {
		nb := p.takeBatch()
		nb.next.Store(b)
		head.Store(nb)
		b = nb
	}
	b.s[b.n] = sample{svc: uint32(clampUS(svc)), rsp: uint32(clampUS(rsp))}
	b.n++
	p.gen.Add(1)
}

// takeBatch returns an empty batch: one of the reader's, else the lane's
// spares (batches the collector drained), else a new one.
func (p *pconn) takeBatch() *sampleBatch {
	if p.bfree == nil {
		p.bfree = p.lane.spare.Swap(nil)
	}
	if b := p.bfree; b != nil {
		p.bfree = b.next.Load()
		return b
	}
	p.d.batchAllocs.Add(1)
	return new(sampleBatch)
}

// clampUS converts ns to µs within the histograms' range.
func clampUS(ns int64) int64 {
	us := ns / 1000
	if us < histLo {
		return histLo
	}
	if us > histHi {
		return histHi
	}
	return us
}

// giveBatches returns the chain first..last of drained batches to the
// lane's spares. The collector is the only producer; readers take the
// list whole with a Swap (takeBatch), hence the CAS.
func (l *lane) giveBatches(first, last *sampleBatch) {
	for {
		h := l.spare.Load()
		last.next.Store(h)
		if l.spare.CompareAndSwap(h, first) {
			return
		}
	}
}
