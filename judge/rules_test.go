package judge

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
)

// ms is a time on the fake's clock, in milliseconds.
func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// scene builds the connection logs of a scenario through the recorder,
// as the fake would call it.
type scene struct {
	rec   *recorder
	conns []*connLog
}

func newScene(conns int) *scene {
	s := &scene{rec: &recorder{sender: "123"}}
	for i := range conns {
		l := s.rec.Bind(fakeccs.ConnInfo{Seq: uint64(i + 1), Identity: "123@gcm.googleapis.com"}).(*connLog)
		s.conns = append(s.conns, l)
	}
	return s
}

// read: connection c read id at t with pending earlier messages unanswered.
func (s *scene) read(c int, id string, t float64, pending uint64) *scene {
	s.conns[c].Read([]byte(id), ms(t), pending)
	return s
}

// answer: connection c answered id (code "" for an ACK) and wrote it at t.
func (s *scene) answer(c int, id, code string, t float64) *scene {
	kind := fakeccs.AnswerAck
	if code != "" {
		kind = fakeccs.AnswerNack
	}
	s.conns[c].Answer([]byte(id), kind, code)
	s.conns[c].Flush(ms(t), true)
	return s
}

// acked: connection c read id at t and wrote its ACK 1 ms later.
func (s *scene) acked(c int, id string, t float64) *scene {
	return s.read(c, id, t, 0).answer(c, id, "", t+1)
}

func (s *scene) end(c int, t float64, cause fakeccs.EndCause) *scene {
	s.conns[c].End(ms(t), cause)
	return s
}

// judge analyzes the scene as scenario name of messages and judges rule.
func (s *scene) judge(t *testing.T, name string, messages int, rule string) report.JudgeRule {
	t.Helper()
	for _, l := range s.conns {
		if l.end < 0 {
			l.End(ms(60_000), fakeccs.EndClientEnd)
		}
	}
	st := &fakeccs.Stats{}
	f := analyze(name, messages, s.rec.logs(), st)
	for _, r := range evaluate([]*facts{f}) {
		if r.ID == rule {
			return r
		}
	}
	t.Fatalf("no rule %s", rule)
	return report.JudgeRule{}
}

func TestRuleVerdicts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		scenario string
		messages int
		rule     string
		build    func() *scene
		verdict  string
		evidence string // a part of it
	}{
		{"duplicate after an ACK that reached the client", Throughput, 1, RuleNoDuplicates, func() *scene {
			return newScene(2).acked(0, "a", 10).read(1, "a", 500, 0).end(0, 2000, fakeccs.EndClientEnd)
		}, report.VerdictFail, `e.g. "a" 489.0 ms after its ACK`},
		{"resend after an ACK whose connection was dropped at once", Drop, 1, RuleNoDuplicates, func() *scene {
			return newScene(2).acked(0, "a", 10).end(0, 300, fakeccs.EndDropped).acked(1, "a", 310)
		}, report.VerdictPass, "no message sent again"},
		{"resend on the same connection after its ACK", Throughput, 1, RuleNoDuplicates, func() *scene {
			return newScene(1).acked(0, "a", 10).read(0, "a", 20, 0).end(0, 300, fakeccs.EndClientEnd)
		}, report.VerdictFail, "1 messages sent again"},
		{"resend before the ACK was written is not a duplicate", Throughput, 1, RuleNoDuplicates, func() *scene {
			return newScene(2).read(0, "a", 10, 0).read(1, "a", 15, 0).answer(0, "a", "", 20).answer(1, "a", "", 21)
		}, report.VerdictPass, "2 ACKs"},

		{"final NACK resent", Final, 1, RuleNoRetryFinal, func() *scene {
			return newScene(1).read(0, "a", 10, 0).answer(0, "a", "BAD_REGISTRATION", 11).read(0, "a", 12, 0).answer(0, "a", "INVALID_JSON", 13)
		}, report.VerdictFail, `1 messages sent again after a final NACK (e.g. "a" 1.0 ms after BAD_REGISTRATION)`},
		{"final NACK kept", Final, 2, RuleNoRetryFinal, func() *scene {
			return newScene(1).read(0, "a", 10, 0).answer(0, "a", "DEVICE_UNREGISTERED", 11).acked(0, "b", 12)
		}, report.VerdictPass, "1 final NACKs (DEVICE_UNREGISTERED 1): none sent again"},
		{"no final NACK", Final, 1, RuleNoRetryFinal, func() *scene { return newScene(1).acked(0, "a", 1) },
			report.VerdictSkip, "no final NACK"},

		{"exponential backoff", Retry, 1, RuleRetryBackoff, func() *scene {
			return newScene(1).read(0, "a", 0, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1).
				read(0, "a", 1101, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1102).acked(0, "a", 3400)
		}, report.VerdictPass, "1 messages NACKed again after a resend: all sent again"},
		{"immediate resend", Retry, 1, RuleRetryBackoff, func() *scene {
			return newScene(1).read(0, "a", 0, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1).acked(0, "a", 2)
		}, report.VerdictFail, "1 resends sooner than 800ms after the NACK (fastest 1.0 ms)"},
		{"backoff that does not grow", Retry, 1, RuleRetryBackoff, func() *scene {
			return newScene(1).read(0, "a", 0, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1).
				read(0, "a", 1101, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1102).acked(0, "a", 2300)
		}, report.VerdictFail, "1 later waits not 1.25 times the one before"},
		{"never resent", Retry, 1, RuleRetryBackoff, func() *scene {
			return newScene(1).read(0, "a", 0, 0).answer(0, "a", "SERVICE_UNAVAILABLE", 1)
		}, report.VerdictFail, `1 never sent again (e.g. "a")`},

		{"drain: moved at once", Drain, 3, RuleDrainMoves, func() *scene {
			s := newScene(2).acked(0, "a", 10)
			s.conns[0].Drain(ms(11), false)
			s.read(0, "b", 12, 0).answer(0, "b", "", 13). // the notice goes out with b's ACK
									acked(1, "c", 15).end(0, 1100, fakeccs.EndDrained)
			return s
		}, report.VerdictPass, "1 drain (1 by control message, 0 by NACK): nothing new on a draining connection once told; next message on another connection after p50 2.0 ms"},
		{"drain: sent there after the grace", Drain, 3, RuleDrainMoves, func() *scene {
			s := newScene(1).acked(0, "a", 10)
			s.conns[0].Drain(ms(11), false)
			s.answer(0, "", "", 12).read(0, "b", 600, 0).answer(0, "b", "CONNECTION_DRAINING", 601)
			return s
		}, report.VerdictFail, "1 messages sent on a draining connection after it was told, in 1 of 1 drain"},
		{"drain: sent there beyond the window within the grace", Drain, 200, RuleDrainMoves, func() *scene {
			s := newScene(1).acked(0, "a", 10)
			s.conns[0].Drain(ms(11), true) // the NACK form: the first NACK is the notice
			for i := range 102 {           // with a's ACK and the first NACK written, 102 could be sent blind

				id := string(rune('A'+i/26)) + string(rune('a'+i%26))
				s.read(0, id, 12+float64(i)/100, uint64(min(i, 99))).answer(0, id, "CONNECTION_DRAINING", 12.5+float64(i)/100)
			}
			return s
		}, report.VerdictFail, "1 messages sent on a draining connection after it was told"},
		{"drain: a client one over the window ignores the notice", Drain, 351, RuleDrainMoves, func() *scene {
			s := newScene(1) // node-xcs: 101 in flight, and the control message ignored
			for i := range 101 {
				s.read(0, fmt.Sprint("m", i), 10, uint64(i))
			}
			for i := range 101 {
				s.answer(0, fmt.Sprint("m", i), "", 20)
			}
			s.conns[0].Drain(ms(21), false)
			s.answer(0, "", "", 22)
			for i := 101; i < 351; i++ { // all within the grace: only the window can tell
				s.acked(0, fmt.Sprint("m", i), 23+float64(i)/100)
			}
			return s
		}, report.VerdictFail, "148 messages sent on a draining connection after it was told, in 1 of 1 drain (1 by control message, 0 by NACK); none on another connection after them"},
		{"drain: a client without a window is judged by the time alone", Drain, 351, RuleDrainMoves, func() *scene {
			s := newScene(2) // 150 in flight time and again: it may not have read the notice yet
			for i := range 100 {
				s.read(0, fmt.Sprint("m", i), 10, uint64(i))
			}
			s.conns[0].Drain(ms(11), false)
			s.answer(0, "", "", 12)
			for b := range 5 {
				for k := range 50 {
					s.read(0, fmt.Sprint("m", 100+50*b+k), 12.5+float64(b), uint64(100+k))
				}
				for k := range 50 {
					s.answer(0, fmt.Sprint("m", 50*b+k), "", 12.6+float64(b))
				}
			}
			return s.acked(1, "late", 20).end(0, 1100, fakeccs.EndDrained)
		}, report.VerdictPass, "nothing new on a draining connection once told"},
		{"drain: the client waited for the close", Drain, 2, RuleDrainMoves, func() *scene {
			s := newScene(2).acked(0, "a", 10)
			s.conns[0].Drain(ms(11), false)
			s.answer(0, "", "", 12).end(0, 1012, fakeccs.EndDrained).acked(1, "b", 1100)
			return s
		}, report.VerdictFail, "after 1 of 1 drain (1 by control message, 0 by NACK) the next message went out only once the draining connection had closed"},

		{"drain-no-loss: a message NACKed and forgotten", Drain, 2, RuleDrainNoLoss, func() *scene {
			return newScene(1).acked(0, "a", 1).read(0, "b", 2, 0).answer(0, "b", "CONNECTION_DRAINING", 3)
		}, report.VerdictFail, `through 0 drains, 2 of 2 ids arrived, 1 got a final answer (1 never did, e.g. "b")`},
		{"drain-no-loss: ids changed on resend", Drain, 1, RuleDrainNoLoss, func() *scene {
			return newScene(1).acked(0, "a", 1).acked(0, "a2", 2)
		}, report.VerdictFail, "1 ids more than CCS_MESSAGES"},

		{"drop: everything sent again", Drop, 4, RuleDropResend, func() *scene {
			s := newScene(2).acked(0, "a", 1).read(0, "b", 2, 0).read(0, "c", 3, 1)
			s.conns[0].Leftover([]byte("d"), ms(3))
			return s.end(0, 4, fakeccs.EndDropped).acked(1, "b", 6).acked(1, "c", 7).acked(1, "d", 8)
		}, report.VerdictPass, "1 drop left 3 messages unanswered; all arrived again on another connection"},
		{"drop: one forgotten", Drop, 3, RuleDropResend, func() *scene {
			return newScene(2).acked(0, "a", 1).read(0, "b", 2, 0).read(0, "c", 3, 1).
				end(0, 4, fakeccs.EndDropped).acked(1, "b", 6)
		}, report.VerdictFail, `1 never arrived again (e.g. "c")`},
		{"drop: no drop", Drop, 1, RuleDropResend, func() *scene { return newScene(1).acked(0, "a", 1) },
			report.VerdictSkip, "no connection was dropped"},

		{"window kept", Window, 1, RuleWindow, func() *scene { return newScene(1).read(0, "a", 1, 99) },
			report.VerdictPass, "max pending 100 (window)"},
		{"window broken", Window, 1, RuleWindow, func() *scene { return newScene(1).read(0, "a", 1, 99).read(0, "b", 1, 100) },
			report.VerdictFail, "1 messages read with 100 or more of their connection unanswered (window 1); max pending 101"},
		{"handshake", Throughput, 1, RuleHandshake, func() *scene { return newScene(2) },
			report.VerdictPass, "2 connections bound in 1 scenario, logged in as SENDER@gcm.googleapis.com (2)"},
		{"never bound", Throughput, 1, RuleHandshake, func() *scene { return newScene(0) },
			report.VerdictFail, "no connection authenticated and bound in throughput"},
		{"never bound: other rules skip", Throughput, 1, RuleNoDuplicates, func() *scene { return newScene(0) },
			report.VerdictSkip, "the client never connected"},
		{"scenario not run", Throughput, 1, RuleDrainMoves, func() *scene { return newScene(1) },
			report.VerdictSkip, "scenario drain not run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.build().judge(t, tc.scenario, tc.messages, tc.rule)
			if r.Verdict != tc.verdict || !strings.Contains(r.Evidence, tc.evidence) {
				t.Errorf("%s = %s %q; want %s with %q", tc.rule, r.Verdict, r.Evidence, tc.verdict, tc.evidence)
			}
		})
	}
}

func TestUpstreamVerdicts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		build   func(l *connLog)
		end     float64
		verdict string
		want    string
	}{
		{"ACKed, and one sent just before the close", func(l *connLog) {
			l.Upstream([]byte("up-1"), false, false, ms(0))
			l.UpstreamAck([]byte("up-1"), false, false, ms(0), ms(2))
			l.Upstream([]byte("up-2"), false, false, ms(2500))
		}, 3000, report.VerdictPass, "1 of 2 upstream messages ACKed (1 more sent less than 1s before their connection closed); ACK latency p50 2.0 ms"},
		{"never ACKed", func(l *connLog) {
			l.Upstream([]byte("up-1"), false, false, ms(0))
		}, 3000, report.VerdictFail, "1 upstream messages never ACKed"},
		// A client whose library reads the answer to its own request
		// (a session IQ) as the next element loses the upstream message
		// the server sent first after bind: the evidence must point there.
		{"the first after bind never ACKed", func(l *connLog) {
			l.Upstream([]byte("up-1"), false, false, ms(0.2))
			l.Upstream([]byte("up-2"), false, false, ms(5))
			l.UpstreamAck([]byte("up-2"), false, false, ms(5), ms(6))
		}, 3000, report.VerdictFail, "1 upstream messages never ACKed although sent 1s or more before their connection closed (1 of them the first sent on their connection; the earliest \"up-1\", sent 200 µs after its connection was bound)"},
		{"ACKed with a wrong to", func(l *connLog) {
			l.Upstream([]byte("up-1"), false, false, ms(0))
			l.BadAck([]byte("up-1"), false, ms(1))
			l.UpstreamAck([]byte("up-1"), false, false, ms(0), ms(2))
		}, 3000, report.VerdictFail, "1 ACKs with a wrong or missing to/message_id"},
		{"resent and ACKed on the next connection", func(l *connLog) {
			l.Upstream([]byte("up-1"), false, false, ms(0))
		}, 3000, report.VerdictPass, "1 of 1 upstream messages ACKed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newScene(2)
			tc.build(s.conns[0])
			s.end(0, tc.end, fakeccs.EndClientEnd)
			if strings.HasPrefix(tc.name, "resent") {
				s.conns[1].Upstream([]byte("up-1"), false, true, ms(3100))
				s.conns[1].UpstreamAck([]byte("up-1"), false, false, ms(3100), ms(3101))
			}
			r := s.judge(t, Upstream, 1, RuleUpstreamAck)
			if r.Verdict != tc.verdict || !strings.Contains(r.Evidence, tc.want) {
				t.Errorf("upstream-ack = %s %q; want %s with %q", r.Verdict, r.Evidence, tc.verdict, tc.want)
			}
		})
	}
	s := newScene(1)
	s.conns[0].Upstream([]byte("dr2:m-1"), true, false, ms(0))
	s.conns[0].UpstreamAck([]byte("dr2:m-1"), true, true, ms(0), ms(1))
	if r := s.judge(t, Receipts, 1, RuleReceiptAck); r.Verdict != report.VerdictPass || !strings.Contains(r.Evidence, "form: 0 with the dr2: prefix, 1 without") {
		t.Errorf("receipt-ack = %s %q; want a pass naming the unprefixed form", r.Verdict, r.Evidence)
	}
	if r := newScene(1).judge(t, Receipts, 1, RuleReceiptAck); r.Verdict != report.VerdictSkip {
		t.Errorf("receipt-ack without receipts = %s %q; want skip", r.Verdict, r.Evidence)
	}
}

// TestSelfCheck makes the observer and the fake's counters disagree.
func TestSelfCheck(t *testing.T) {
	t.Parallel()
	s := newScene(1).acked(0, "a", 1)
	f := analyze(Throughput, 1, s.rec.logs(), &fakeccs.Stats{})
	st := &fakeccs.Stats{Received: 1, Acks: 1, Nacks: map[string]uint64{}}
	if err := selfCheck(st, f); err != nil {
		t.Errorf("selfCheck of agreeing counts = %v", err)
	}
	st.Received = 2
	if err := selfCheck(st, f); err == nil || !strings.Contains(err.Error(), "received 2") || !strings.Contains(err.Error(), "observer saw 1") {
		t.Errorf("selfCheck of a fake that read more = %v; want both errors", err)
	}
}

func TestParseScenarios(t *testing.T) {
	t.Parallel()
	if got, err := ParseScenarios("final, throughput"); err != nil || strings.Join(got, ",") != "throughput,final" {
		t.Errorf("ParseScenarios = %v, %v; want [throughput final] in run order", got, err)
	}
	for _, s := range []string{"", "all"} {
		if got, err := ParseScenarios(s); got != nil || err != nil {
			t.Errorf("ParseScenarios(%q) = %v, %v; want nil (all)", s, got, err)
		}
	}
	for _, s := range []string{"throughput,bogus", ",,"} {
		if _, err := ParseScenarios(s); err == nil {
			t.Errorf("ParseScenarios(%q) = nil error", s)
		}
	}
}

// TestEnvVarsTrust: where the judge's environment already names a CA file
// (as many machines do, for the system bundle or a proxy), the client gets
// a bundle that trusts that and the fake, not the old file alone (with
// which no Node.js or OpenSSL client could trust the fake).
func TestEnvVarsTrust(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mine := filepath.Join(dir, "system.pem")
	if err := os.WriteFile(mine, []byte("SYSTEM"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NODE_EXTRA_CA_CERTS": mine, "SSL_CERT_FILE": filepath.Join(dir, "missing.pem")}
	trust, err := trustBundles(dir, "trust-drain", "/ca.pem", []byte("FAKE\n"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("trustBundles = %v", err)
	}
	for k, want := range map[string]string{"NODE_EXTRA_CA_CERTS": "SYSTEM\nFAKE\n", "SSL_CERT_FILE": "FAKE\n"} {
		b, err := os.ReadFile(trust[k])
		if err != nil || string(b) != want {
			t.Errorf("trustBundles: %s bundle %q = %q, %v; want %q", k, trust[k], b, err, want)
		}
	}
	e := Env{CAFile: "/ca.pem", Trust: trust}
	got := strings.Join(e.Vars([]string{"NODE_EXTRA_CA_CERTS=" + mine, "SSL_CERT_FILE=" + env["SSL_CERT_FILE"]}), " ")
	for _, k := range TrustVars {
		if want := k + "=" + trust[k]; !strings.Contains(got, want) || strings.Count(got, k+"=") != 1 {
			t.Errorf("Vars = %s; want %s once", got, want)
		}
	}
	none, err := trustBundles(dir, "trust-x", "/ca.pem", []byte("FAKE\n"), func(k string) string {
		return map[string]string{"SSL_CERT_FILE": "/ca.pem"}[k]
	})
	if err != nil || none != nil {
		t.Errorf("trustBundles(unset or the CA file itself) = %v, %v; want nil, nil", none, err)
	}
}

func TestEnvVars(t *testing.T) {
	t.Parallel()
	e := Env{Host: "127.0.0.1", Port: "5235", SenderID: "1", APIKey: "k", CAFile: "/ca.pem", Messages: 10, Rate: 2.5, Receipts: true, Scenario: "drain"}
	got := strings.Join(e.Vars([]string{"PATH=/bin", "CCS_PORT=1", "CCS_CONNS=4", "NODE_EXTRA_CA_CERTS=/mine.pem"}), " ")
	want := "PATH=/bin CCS_CONNS=4 NODE_EXTRA_CA_CERTS=/mine.pem CCS_HOST=127.0.0.1 CCS_PORT=5235 CCS_SENDER_ID=1 CCS_API_KEY=k " +
		"CCS_CA_FILE=/ca.pem CCS_MESSAGES=10 CCS_RATE=2.5 CCS_RECEIPTS=1 CCS_SCENARIO=drain SSL_CERT_FILE=/ca.pem"
	if got != want {
		t.Errorf("Vars =\n%s\nwant\n%s", got, want)
	}
}

// TestHandshakeFailedEvidence: a client that never binds because its TLS
// handshake fails (a Node.js client that does not trust the fake) is told
// so, not only that it never connected.
func TestHandshakeFailedEvidence(t *testing.T) {
	t.Parallel()
	f := analyze(Throughput, 10, nil, &fakeccs.Stats{HandshakeFailures: 10})
	for _, r := range evaluate([]*facts{f}) {
		if r.ID != RuleHandshake {
			continue
		}
		if want := "10 connections closed before binding (the TLS or XMPP handshake failed: does the client trust CCS_CA_FILE?)"; r.Verdict != report.VerdictFail || !strings.Contains(r.Evidence, want) {
			t.Errorf("handshake = %s %q; want fail with %q", r.Verdict, r.Evidence, want)
		}
		return
	}
	t.Fatalf("no rule %s", RuleHandshake)
}

// TestHandshakeFailedEvidenceBound: a client that bound, and also gave up
// a connection before binding (one it opened as it finished), is told the
// count without the certificate hint.
func TestHandshakeFailedEvidenceBound(t *testing.T) {
	t.Parallel()
	s := newScene(1).acked(0, "a", 1)
	s.conns[0].End(ms(10), fakeccs.EndClientEnd)
	f := analyze(Throughput, 1, s.rec.logs(), &fakeccs.Stats{HandshakeFailures: 2})
	for _, r := range evaluate([]*facts{f}) {
		if r.ID == RuleHandshake && (r.Verdict != report.VerdictPass || !strings.HasSuffix(r.Evidence, "; 2 connections closed before binding")) {
			t.Errorf("handshake = %s %q; want pass ending with the count", r.Verdict, r.Evidence)
		}
	}
}

// A client run through a launcher is named after what it runs.
func TestCommandName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{nil, ""},
		{[]string{"bin/naive", "-no-window"}, "naive"},
		{[]string{"/usr/bin/python3", "scripts/interop/go-python/slixmpp/ccs_slixmpp.py"}, "ccs_slixmpp"},
		{[]string{"env", "CCS_CONNS=4", "node", "--no-warnings", "xcs.js"}, "xcs"},
		{[]string{"go", "run", "./examples/clients/mellium"}, "mellium"},
		{[]string{"java", "-jar", "app.jar"}, "app"},
		{[]string{"sh", "-c", "exec node client.mjs --fast"}, "sh"},
		{[]string{"sh", "client.sh"}, "client"},
		{[]string{"env"}, "env"},
	} {
		if got := commandName(tt.argv); got != tt.want {
			t.Errorf("commandName(%q) = %q; want %q", tt.argv, got, tt.want)
		}
	}
}
