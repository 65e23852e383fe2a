package fakeccs

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// wantConfigError fails unless err is a *ConfigError for field that
// wraps ErrConfig and reads "fakeccs: Config.<field>: <reason>" with the
// reason containing want.
func wantConfigError(t *testing.T, call string, err error, field, want string) {
	t.Helper()
	var ce *ConfigError
	switch {
	case !errors.As(err, &ce):
		t.Errorf("%s = %v; want a *ConfigError for %s", call, err, field)
	case ce.Field != field || !strings.Contains(ce.Reason, want):
		t.Errorf("%s = %#v; want Field %q and a Reason with %q", call, ce, field, want)
	case !errors.Is(err, ErrConfig):
		t.Errorf("%s = %v; want it to wrap ErrConfig", call, err)
	case field != "" && err.Error() != "fakeccs: Config."+field+": "+ce.Reason:
		t.Errorf("%s: Error() = %q; want %q", call, err.Error(), "fakeccs: Config."+field+": "+ce.Reason)
	}
}

func TestParseNackRulesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"X", `rule "X" is not CODE=RATE`},
		{"X=2", "rate 2 of X is outside 0..1"},
		{"X=-0.1", "rate -0.1 of X is outside 0..1"},
		{"x=0.1", `code "x" is not upper-case`},
		{"A=0.6,B=0.6", "rates sum to 1.2, more than 1"},
		{"A=abc", `rule "A=abc": the rate is not a number`},
		{"=0.1", `code ""`},
	} {
		_, err := ParseNackRules(tc.in)
		wantConfigError(t, "ParseNackRules("+tc.in+")", err, "Nack", tc.want)
	}
	if r, err := ParseNackRules(""); err != nil || r != nil {
		t.Errorf(`ParseNackRules("") = %v, %v; want no rules`, r, err)
	}
}

func TestFormatNackRules(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "SERVICE_UNAVAILABLE=0.01", "A=0.5,WEIRD_1=1e-05"} {
		rules, err := ParseNackRules(in)
		if err != nil {
			t.Fatalf("ParseNackRules(%q): %v", in, err)
		}
		if got := FormatNackRules(rules); got != in {
			t.Errorf("FormatNackRules(ParseNackRules(%q)) = %q", in, got)
		}
	}
}

func TestParseEvery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Every
	}{
		{"", Every{}}, {"0", Every{}}, {"1000", Every{N: 1000}}, {"30s", Every{D: 30 * time.Second}},
		{"1m30s", Every{D: 90 * time.Second}},
	} {
		got, err := ParseEvery(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseEvery(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.want.String() {
			t.Errorf("String() of %v = %q", got, got.String())
		}
	}
	for _, s := range []string{"x", "-1s", "1.5", "-3"} {
		_, err := ParseEvery(s)
		wantConfigError(t, "ParseEvery("+s+")", err, "", "is neither a message count nor a duration")
		if err != nil && err.Error() != `fakeccs: "`+s+`" is neither a message count nor a duration (e.g. 1000 or 30s)` {
			t.Errorf("ParseEvery(%q) error %q", s, err)
		}
	}
}

// TestConfigErrors checks that New refuses every unusable value with a
// *ConfigError naming its field, the options the judge uses included.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg         Config
		field, want string
	}{
		{Config{AckDelay: -1}, "AckDelay", "-1ns is negative"},
		{Config{AckJitter: -time.Second}, "AckJitter", "-1s is negative"},
		{Config{AuthTimeout: -1}, "AuthTimeout", "is negative"},
		{Config{UpstreamResend: -1}, "UpstreamResend", "is negative"},
		{Config{Keepalive: -1}, "Keepalive", "is negative"},
		{Config{DrainDeadline: -1}, "DrainDeadline", "is negative"},
		{Config{DropEvery: Every{D: -1}}, "DropEvery", "is negative"},
		{Config{DrainEvery: Every{D: -1}}, "DrainEvery", "is negative"},
		{Config{DropEvery: Every{N: 1, D: 1}}, "DropEvery", "not both"},
		{Config{DrainEvery: Every{N: 1, D: 1}}, "DrainEvery", "not both"},
		{Config{UpstreamRate: -1}, "UpstreamRate", "-1 is not a finite rate"},
		{Config{DeviceRate: math.Inf(1)}, "DeviceRate", "+Inf is not a finite rate"},
		{Config{CanonicalRate: 2}, "CanonicalRate", "2 is outside 0..1"},
		{Config{CanonicalRate: math.NaN()}, "CanonicalRate", "NaN is outside 0..1"},
		{Config{BadRegistrationShare: -0.1}, "BadRegistrationShare", "-0.1 is outside 0..1"},
		{Config{UnregisteredShare: 1.5}, "UnregisteredShare", "1.5 is outside 0..1"},
		{Config{BadRegistrationShare: 0.7, UnregisteredShare: 0.4}, "UnregisteredShare", "Config.BadRegistrationShare 0.7 sum to more than 1"},
		{Config{MaxStanza: 10}, "MaxStanza", "10 is below 512 bytes"},
		{Config{MaxStanza: -1}, "MaxStanza", "-1 is below 512 bytes"},
		{Config{WireForm: 9}, "WireForm", "9 is not a wire form"},
		{Config{TLSMode: 7}, "TLSMode", "TLSMode(7) is not one of direct, starttls and none"},
		{Config{DrainAlternate: true, DrainAsNack: true}, "DrainAlternate", "excludes Config.DrainAsNack"},
		{Config{SenderID: "a@b"}, "SenderID", `"a@b" is not a bare sender id`},
		{Config{SenderIDs: []string{"1", "a/b"}}, "SenderIDs", `"a/b" is not a bare sender id`},
		{Config{Nack: []NackRule{{"A", 0.7}, {"B", 0.7}}}, "Nack", "rates sum to 1.4"},
		{Config{BadRegistration: []string{""}}, "BadRegistration", "empty pattern"},
		{Config{Unregistered: []string{"x", ""}}, "Unregistered", "empty pattern"},
	} {
		_, err := New(tc.cfg)
		wantConfigError(t, "New(Config{"+tc.field+": ...})", err, tc.field, tc.want)
	}
}
