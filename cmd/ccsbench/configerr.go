package main

import (
	"errors"
	"regexp"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/workload"
)

// runFlagOf maps the Go names of the driver.Config fields (and, under
// "Message.", of workload.MessageConfig) that run's flags set to those
// flags, so that an error of the driver's own checks names the flag the
// user typed. The driver checks the values; run checks only what the
// command line means by them (a 0 that the driver would take as "the
// default", say).
var runFlagOf = map[string]string{
	"SenderID":             "sender-id",
	"SenderIDs":            "sender-id",
	"APIKey":               "api-key",
	"Target":               "target",
	"TLSMode":              "tls",
	"LoginDomain":          "login-domain",
	"BareIdentity":         "sasl-user",
	"Conns":                "conns",
	"DialConcurrency":      "dial-concurrency",
	"ConnRate":             "conn-rate",
	"Window":               "window",
	"AllowWindowOverride":  "window-override",
	"Pacer":                "rate",
	"Arrivals":             "arrivals",
	"Duration":             "duration",
	"Messages":             "messages",
	"Warmup":               "warmup",
	"Interval":             "interval",
	"DrainTimeout":         "drain-timeout",
	"DialTimeout":          "dial-timeout",
	"DrainCloseTimeout":    "drain-close-timeout",
	"MaxResends":           "max-resends",
	"MaxRetries":           "max-retries",
	"Shard":                "shard",
	"StartAt":              "start-at",
	"Message.PayloadBytes": "payload-bytes",
	"Message.ToPool":       "to-pool",
	"Message.Zipf":         "zipf",
	"Message.TTL":          "ttl",
	"Message.CollapseKey":  "collapse-key",
	"Message.Priority":     "priority",
	"Message.InvalidRate":  "invalid-rate",
	"Message.Receipts":     "receipts",
}

// goName matches a Go field name in a reason: a capitalised word, or
// Message.Field.
var goName = regexp.MustCompile(`\b(?:Message\.)?[A-Z][A-Za-z]+\b`)

// flagConfigError is a configuration error of the driver or of the
// message generator said in terms of run's flags: "--window: 101 exceeds
// the protocol's 100 pending messages per connection". It wraps the
// original, so errors.Is(err, driver.ErrConfig) still holds.
type flagConfigError struct {
	text string
	err  error
}

func (e *flagConfigError) Error() string { return e.text }
func (e *flagConfigError) Unwrap() error { return e.err }

// runConfigError returns err with the Config field it names replaced by
// run's flag, and the other field names in its reason too; rateShape
// tells that --rate-shape, not --rate, made the pacer. Errors that name
// no field run sets are returned as they are.
func runConfigError(err error, rateShape bool) error {
	var field, reason string
	var dc *driver.ConfigError
	var wc *workload.ConfigError
	switch {
	case errors.As(err, &dc):
		field, reason = dc.Field, dc.Reason
	case errors.As(err, &wc):
		field, reason = "Message."+wc.Field, wc.Reason
	default:
		return err
	}
	flagOf := func(name string) (string, bool) {
		if name == "Pacer" && rateShape {
			return "rate-shape", true
		}
		if f, ok := runFlagOf[name]; ok {
			return f, true
		}
		// The message generator's reasons name its fields bare.
		f, ok := runFlagOf["Message."+name]
		return f, ok
	}
	flag, ok := flagOf(field)
	if !ok {
		return err
	}
	reason = goName.ReplaceAllStringFunc(reason, func(w string) string {
		if f, ok := flagOf(w); ok {
			return "--" + f
		}
		return w
	})
	return &flagConfigError{text: "--" + flag + ": " + reason, err: err}
}
