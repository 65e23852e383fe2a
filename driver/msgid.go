package driver

import (
	"crypto/rand"
	"encoding/hex"
)

// maxPrefixLen bounds Config.IDPrefix, in bytes.
const maxPrefixLen = 16

// maxIDLen bounds an encoded message id: a prefix of at most maxPrefixLen
// bytes, 16 hex digits of sequence, a dot and 8 hex digits of record
// index.
const maxIDLen = maxPrefixLen + 16 + 1 + 8

// hexDigit is the lower-case hexadecimal alphabet of message ids.
const hexDigit = "0123456789abcdef"

// appendID appends the message id of sequence seq in record index idx:
// PREFIX + hex(seq) + "." + hex(idx), where seq is the record's
// generation (the messages it has carried, see record). The id is unique
// in the run and the same for every attempt of a message on any
// connection, so a server that tracks ids sees exactly as many as the
// driver counts messages; and it leads the reader to the record with no
// map and no lock (parseID, recTable.lookup), where the wire and conn
// fields tell whether this attempt awaits an answer on that connection.
// PREFIX (Config.IDPrefix) keeps the ids of different runs apart.
func appendID(b []byte, prefix string, seq uint64, idx uint32) []byte {
	b = append(b, prefix...)
	b = appendHex(b, seq)
	b = append(b, '.')
	return appendHex(b, uint64(idx))
}

func appendHex(b []byte, v uint64) []byte {
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = hexDigit[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// parseID decodes an id made by appendID with the given prefix. ok is
// false for anything else.
func parseID(prefix string, id []byte) (seq uint64, idx uint32, ok bool) {
	if len(id) <= len(prefix) || string(id[:len(prefix)]) != prefix {
		return 0, 0, false
	}
	id = id[len(prefix):]
	dot := -1
	for i, c := range id {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 1 || dot > 16 || len(id)-dot-1 < 1 || len(id)-dot-1 > 8 {
		return 0, 0, false
	}
	seq, ok = parseHex(id[:dot])
	if !ok {
		return 0, 0, false
	}
	v, ok := parseHex(id[dot+1:])
	if !ok {
		return 0, 0, false
	}
	return seq, uint32(v), true
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// findID looks for an id with the given prefix inside an echoed payload
// (a stanza error whose payload could not be parsed) and returns it.
func findID(prefix string, payload []byte) []byte {
	for i := 0; i+len(prefix) < len(payload); i++ {
		if string(payload[i:i+len(prefix)]) != prefix {
			continue
		}
		j := i + len(prefix)
		for j < len(payload) && (payload[j] == '.' || (payload[j] >= '0' && payload[j] <= '9') || (payload[j] >= 'a' && payload[j] <= 'f')) {
			j++
		}
		if _, _, ok := parseID(prefix, payload[i:j]); ok {
			return payload[i:j]
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// randomPrefix returns 6 random hex digits and a dash, so that the ids of
// different runs against one server differ.
func randomPrefix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}
