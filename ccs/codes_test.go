package ccs

import "testing"

func TestParseNackCode(t *testing.T) {
	t.Parallel()
	for _, c := range NackCodes {
		if got := ParseNackCode([]byte(c.String())); got != c {
			t.Errorf("ParseNackCode(%q) = %v; want %v", c.String(), got, c)
		}
	}
	tests := []struct {
		in   string
		want NackCode
	}{
		{`InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"` + "\n", NackInvalidJSON},
		{`InvalidJson : JSON_TYPE_ERROR : Field "delay_while_idle" must be a JSON java.lang.Boolean: x`, NackInvalidJSON},
		{"", NackUnknown},
		{"invalid_json", NackUnknown},
		{"SOMETHING_NEW", NackUnknown},
		{"BAD_ACK ", NackUnknown},
	}
	for _, tt := range tests {
		if got := ParseNackCode([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseNackCode(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestNackRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    NackCode
		want    RetryAction
		bounded bool
	}{
		{NackServiceUnavailable, RetrySameConnection, false},
		{NackInternalServerError, RetrySameConnection, true},
		{NackUnknown, RetrySameConnection, true},
		{NackCode(200), RetrySameConnection, true},
		{NackConnectionDraining, RetryOtherConnection, false},
		{NackInvalidJSON, Final, false},
		{NackBadRegistration, Final, false},
		{NackDeviceUnregistered, Final, false},
		{NackBadAck, Final, false},
		{NackDeviceMessageRateExceeded, Final, false},
		{NackQuotaExceeded, Final, false},
		{NackTopicsMessageRateExceeded, Final, false},
	}
	for _, tt := range tests {
		if got := tt.code.Retry(); got != tt.want {
			t.Errorf("%v.Retry() = %v; want %v", tt.code, got, tt.want)
		}
		if got := tt.code.Bounded(); got != tt.bounded {
			t.Errorf("%v.Bounded() = %v; want %v", tt.code, got, tt.bounded)
		}
	}
	if len(NackCodes) != int(NumNackCodes)-1 {
		t.Errorf("NackCodes lists %d codes; want %d", len(NackCodes), NumNackCodes-1)
	}
}

func TestParseNackCodeAllocs(t *testing.T) {
	b := []byte("SERVICE_UNAVAILABLE")
	u := []byte("InvalidJson : INVALID_TTL")
	if n := testing.AllocsPerRun(100, func() { ParseNackCode(b); ParseNackCode(u) }); n != 0 {
		t.Errorf("ParseNackCode allocates %v times; want 0", n)
	}
}
