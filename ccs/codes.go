package ccs

import "bytes"

// NackCode is the error code of a NACK, as a typed constant. The zero value
// is NackUnknown: a code this package does not know, which the protocol says
// to treat as INTERNAL_SERVER_ERROR.
type NackCode uint8

// The NACK codes of the CCS protocol.
const (
	NackUnknown                   NackCode = iota // a code not listed here; retried as INTERNAL_SERVER_ERROR
	NackInvalidJSON                               // INVALID_JSON: final
	NackBadRegistration                           // BAD_REGISTRATION: final
	NackDeviceUnregistered                        // DEVICE_UNREGISTERED: final
	NackBadAck                                    // BAD_ACK: final
	NackServiceUnavailable                        // SERVICE_UNAVAILABLE: same connection, exponential backoff from 1 s
	NackInternalServerError                       // INTERNAL_SERVER_ERROR: retry with backoff, bounded
	NackDeviceMessageRateExceeded                 // DEVICE_MESSAGE_RATE_EXCEEDED: final by default
	NackQuotaExceeded                             // QUOTA_EXCEEDED (older name of the above): final by default
	NackTopicsMessageRateExceeded                 // TOPICS_MESSAGE_RATE_EXCEEDED: final by default
	NackConnectionDraining                        // CONNECTION_DRAINING: at once on another connection

	// NumNackCodes is the number of codes above, NackUnknown included:
	// ParseNackCode returns only codes below it, so it sizes a table
	// indexed by code. A NackCode from NumNackCodes up is unknown.
	NumNackCodes
)

var nackNames = [NumNackCodes]string{
	NackUnknown:                   "UNKNOWN",
	NackInvalidJSON:               "INVALID_JSON",
	NackBadRegistration:           "BAD_REGISTRATION",
	NackDeviceUnregistered:        "DEVICE_UNREGISTERED",
	NackBadAck:                    "BAD_ACK",
	NackServiceUnavailable:        "SERVICE_UNAVAILABLE",
	NackInternalServerError:       "INTERNAL_SERVER_ERROR",
	NackDeviceMessageRateExceeded: "DEVICE_MESSAGE_RATE_EXCEEDED",
	NackQuotaExceeded:             "QUOTA_EXCEEDED",
	NackTopicsMessageRateExceeded: "TOPICS_MESSAGE_RATE_EXCEEDED",
	NackConnectionDraining:        "CONNECTION_DRAINING",
}

// NackCodes lists every known code, NackUnknown excluded, in a stable order.
var NackCodes = []NackCode{
	NackInvalidJSON, NackBadRegistration, NackDeviceUnregistered, NackBadAck,
	NackServiceUnavailable, NackInternalServerError, NackDeviceMessageRateExceeded,
	NackQuotaExceeded, NackTopicsMessageRateExceeded, NackConnectionDraining,
}

// String returns the code as it appears on the wire, or "UNKNOWN".
func (c NackCode) String() string {
	if c < NumNackCodes {
		return nackNames[c]
	}
	return "UNKNOWN"
}

var invalidJSONPrefix = []byte("InvalidJson")

// ParseNackCode maps the "error" field of a NACK to its code without
// allocating. CCS sometimes puts a whole description in the field
// ("InvalidJson : INVALID_TTL : ..."); anything starting with InvalidJson is
// INVALID_JSON. Unrecognised codes give NackUnknown.
func ParseNackCode(b []byte) NackCode {
	switch string(b) { // no allocation: the compiler compares in place
	case "INVALID_JSON":
		return NackInvalidJSON
	case "BAD_REGISTRATION":
		return NackBadRegistration
	case "DEVICE_UNREGISTERED":
		return NackDeviceUnregistered
	case "BAD_ACK":
		return NackBadAck
	case "SERVICE_UNAVAILABLE":
		return NackServiceUnavailable
	case "INTERNAL_SERVER_ERROR":
		return NackInternalServerError
	case "DEVICE_MESSAGE_RATE_EXCEEDED":
		return NackDeviceMessageRateExceeded
	case "QUOTA_EXCEEDED":
		return NackQuotaExceeded
	case "TOPICS_MESSAGE_RATE_EXCEEDED":
		return NackTopicsMessageRateExceeded
	case "CONNECTION_DRAINING":
		return NackConnectionDraining
	}
	if bytes.HasPrefix(b, invalidJSONPrefix) {
		return NackInvalidJSON
	}
	return NackUnknown
}

// RetryAction is what a client does with a NACKed message.
type RetryAction uint8

// The retry actions of the protocol.
const (
	// Final: the message is not retried; its outcome is the NACK.
	Final RetryAction = iota
	// RetrySameConnection: resend on the same connection after an
	// exponential backoff (from 1 s for SERVICE_UNAVAILABLE), with bounded
	// attempts for INTERNAL_SERVER_ERROR and unknown codes.
	RetrySameConnection
	// RetryOtherConnection: resend at once on another connection (the one
	// that NACKed is draining).
	RetryOtherConnection
)

// String names the action.
func (a RetryAction) String() string {
	switch a {
	case RetrySameConnection:
		return "retry-same-connection"
	case RetryOtherConnection:
		return "retry-other-connection"
	}
	return "final"
}

// Retry classifies a code into its retry action. Unknown codes are handled
// as INTERNAL_SERVER_ERROR, as the CCS documentation says; the rate-exceeded
// codes are final (a caller may choose otherwise).
func (c NackCode) Retry() RetryAction {
	switch c {
	case NackServiceUnavailable, NackInternalServerError, NackUnknown:
		return RetrySameConnection
	case NackConnectionDraining:
		return RetryOtherConnection
	}
	if c >= NumNackCodes {
		return RetrySameConnection
	}
	return Final
}

// Bounded reports whether retries of this code are bounded in number
// (INTERNAL_SERVER_ERROR and unknown codes) rather than repeated with
// growing backoff until the run ends (SERVICE_UNAVAILABLE).
func (c NackCode) Bounded() bool {
	return c == NackInternalServerError || c == NackUnknown || c >= NumNackCodes
}
