#!/usr/bin/env bash
# Judges the XMPP client stacks Debian packages, each as a CCS app server,
# against ccsbench's fake: aioxmpp (python3-aioxmpp), xmpp4r (ruby-xmpp4r)
# and libstrophe (libstrophe-dev, with libjansson-dev for the JSON), then
# runs each against a fake writing every --wire-form, with drains, NACKs,
# receipts, upstream messages, whitespace keepalives and stanza errors.
# Writes results/interop-debian.md (or $1).
#
# Installs nothing into the repository: ccsbench and the C client are built
# into a temporary directory; the Debian packages are installed with apt-get
# when they are missing and we are root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/results/interop-debian.md}
messages=${MESSAGES:-5000}
py=/usr/bin/python3 # Debian's: a pyenv python3 on PATH does not see Debian packages
ruby=/usr/bin/ruby
packages=(python3-aioxmpp ruby-xmpp4r libstrophe-dev libjansson-dev pkg-config gcc libnet-xmpp-perl)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "== installing ${missing[*]} from Debian"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "missing Debian packages: apt-get install ${missing[*]} (as root)" >&2
		exit 1
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ccsbench-interop-debian.XXXXXX")
fakepid=
cleanup() {
	[ -n "$fakepid" ] && kill "$fakepid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building ccsbench and the libstrophe client (in $work)"
(cd "$root" && go build -o "$work/ccsbench" ./cmd/ccsbench)
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
gcc -O2 -Wall -Wextra -o "$work/ccs_strophe" "$here/libstrophe/ccs_strophe.c" $(pkg-config --cflags --libs libstrophe jansson)

version() { dpkg-query -W -f '${Version}' "$1"; }
aio_v=$(version python3-aioxmpp)
x4r_v=$(version ruby-xmpp4r)
netxmpp_v=$(version libnet-xmpp-perl)
strophe_v=$(version libstrophe-dev)
jansson_v=$(version libjansson-dev)
py_v=$("$py" -c 'import sys; print(sys.version.split()[0])')
ruby_v=$("$ruby" -e 'print RUBY_VERSION')

# client NAME: sets cmd to the command line of the client NAME.
client() {
	case $1 in
	aioxmpp) cmd=("$py" "$here/aioxmpp/ccs_aioxmpp.py") ;;
	libstrophe) cmd=("$work/ccs_strophe") ;;
	xmpp4r) cmd=("$ruby" "$here/xmpp4r/ccs_xmpp4r.rb") ;;
	netxmpp) cmd=(/usr/bin/perl "$here/netxmpp/ccs_netxmpp.pl") ;;
	esac
}

# Every scenario of the judge, for the three full clients; the exit status
# of each judge goes in verdict[NAME].
declare -A verdict
for name in aioxmpp libstrophe xmpp4r; do
	client "$name"
	echo "== judging $name"
	verdict[$name]=0
	"$work/ccsbench" judge --messages "$messages" --name "$name" --json "$work/$name.json" --md "$work/$name.md" \
		-- "${cmd[@]}" >"$work/$name.txt" 2>&1 || verdict[$name]=$?
	tail -n 1 "$work/$name.txt"
done
"$work/ccsbench" report "$work/aioxmpp.json" "$work/libstrophe.json" "$work/xmpp4r.json" --md "$work/side.md"

# The wire forms: one fake per form, with every kind of stanza the fake
# writes in play; each client sends 2000 messages (and, with CCS_PROBE=1,
# one without message_id and one that is not JSON first: two stanza errors).
fake_flags=(--drain-every 700 --drain-alternate --nack SERVICE_UNAVAILABLE=0.02,BAD_REGISTRATION=0.01
	--receipts --upstream-rate 20 --keepalive 100ms --track-ids)
wire_rows=()
for form in documented prefixed default-ns; do
	for name in aioxmpp libstrophe xmpp4r netxmpp; do
		echo "== --wire-form $form: $name"
		"$work/ccsbench" fake --listen 127.0.0.1:0 --wire-form "$form" "${fake_flags[@]}" \
			--cert-out "$work/ca.pem" --stats "$work/wire.json" >"$work/fake.txt" 2>&1 &
		fakepid=$!
		addr=
		for _ in $(seq 50); do
			addr=$(sed -n 's/^fake CCS listening on \([^ ]*\) .*/\1/p' "$work/fake.txt")
			[ -n "$addr" ] && break
			sleep 0.1
		done
		client "$name"
		rc=0
		CCS_HOST=${addr%:*} CCS_PORT=${addr##*:} CCS_SENDER_ID=123456789012 CCS_API_KEY=fakeccs-test-key \
			CCS_CA_FILE="$work/ca.pem" CCS_MESSAGES=2000 CCS_RATE=0 CCS_RECEIPTS=1 CCS_PROBE=1 CCS_SCENARIO="wire-$form" \
			timeout 30 "${cmd[@]}" >"$work/client.txt" 2>&1 || rc=$?
		kill -TERM "$fakepid"
		wait "$fakepid" || true
		fakepid=
		summary=$(grep -o 'messages=.*' "$work/client.txt" | tail -n 1 | sed 's/ in [0-9.]*s (.*//' || true)
		fake=$("$py" - "$work/wire.json" <<-'EOF'
			import json, sys
			s = json.load(open(sys.argv[1]))
			g = lambda k: sum(s[k].values()) if isinstance(s.get(k), dict) else s.get(k, 0)
			ok = g("received") == g("acks") + g("nacks") + g("stanza_errors") + g("abandoned") + g("discarded")
			print("received %d = acks %d + nacks %d + stanza errors %d + abandoned %d + discarded %d (%s); "
			      "%d unique ids, %d drains, %d keepalives, upstream %d/%d ACKed, receipts %d/%d ACKed, %d window violations, %d BAD_ACK" % (
			      g("received"), g("acks"), g("nacks"), g("stanza_errors"), g("abandoned"), g("discarded"),
			      "holds" if ok else "DOES NOT HOLD", g("unique_ids"), g("drains"), g("keepalives"),
			      g("upstream_acked"), g("upstream_sent"), g("receipts_acked"), g("receipts_sent"),
			      g("window_violations"), g("bad_acks")))
		EOF
		)
		wire_rows+=("| $form | $name | $rc | ${summary//|//} | $fake |")
	done
done

{
	cat <<EOF
# Debian's XMPP client stacks as CCS app servers, judged

Generated by \`make interop-debian\` (scripts/interop/debian/run.sh). Each
client is a small CCS app server written on a general-purpose XMPP library
that Debian packages, the way CCS app servers were built on them: the
library does the stream, TLS from the first byte, SASL PLAIN, the bind and
the session; the app sends \`<message><gcm xmlns="google:mobile:data">\`
stanzas built with the library's own stanza API. All three keep at most 100
messages unanswered per connection, ACK upstream messages and receipts (with
the receipt's own \`dr2:\` id), move off a draining connection at once,
resend what a lost connection left unanswered and retry SERVICE_UNAVAILABLE
after a backoff doubling from 1 s. See scripts/interop/debian/README.md.

| client | library (Debian package) | version | language | connections | TLS from the first byte | certificate checked |
|:---|:---|:---|:---|---:|:---|:---|
| aioxmpp | python3-aioxmpp | $aio_v | Python $py_v | 2 | XMPPOverTLSConnector (XEP-0368) | yes (CCS_CA_FILE, name gcm.googleapis.com) |
| libstrophe | libstrophe-dev (+ libjansson-dev $jansson_v for JSON) | $strophe_v | C (gcc) | 4 | XMPP_CONN_FLAG_LEGACY_SSL | yes (CCS_CA_FILE, name gcm.googleapis.com) |
| xmpp4r | ruby-xmpp4r | $x4r_v | Ruby $ruby_v | 2 | Client#use_ssl = true | **no**: use_ssl verifies nothing |
| netxmpp (wire forms only, not judged) | libnet-xmpp-perl | $netxmpp_v | Perl | 1 | Connect(ssl => 1) | yes (ssl_ca_path = CCS_CA_FILE, name gcm.googleapis.com) |

Commands (\`ccsbench judge\` starts a fresh fake per scenario):

\`\`\`
ccsbench judge --messages $messages --name aioxmpp -- /usr/bin/python3 scripts/interop/debian/aioxmpp/ccs_aioxmpp.py
ccsbench judge --messages $messages --name libstrophe -- ccs_strophe   # gcc ... scripts/interop/debian/libstrophe/ccs_strophe.c
ccsbench judge --messages $messages --name xmpp4r -- /usr/bin/ruby scripts/interop/debian/xmpp4r/ccs_xmpp4r.rb
\`\`\`

Exit status of the judge: aioxmpp ${verdict[aioxmpp]}, libstrophe ${verdict[libstrophe]}, xmpp4r ${verdict[xmpp4r]} (0: every rule passed, 1: a rule failed).

EOF
	sed -n '/^| rule /,$p' "$work/side.md" | sed '/^### aioxmpp$/,$d'
	cat <<EOF

## The three wire forms

\`ccsbench fake --wire-form FORM ${fake_flags[*]}\`, then each client with
\`CCS_MESSAGES=2000 CCS_RECEIPTS=1 CCS_PROBE=1\` (the probe: one message
without \`message_id\` and one that is not JSON, each answered with a stanza
error that echoes it; the Net::XMPP client sends no probe). A client gets 30
s (exit 124: it was stopped). The client's counts are its own; the fake's
are from its \`--stats\` file. Net::XMPP matches the literal \`xmlns\`
attribute, not the namespace: it never sees a prefixed
\`<data:gcm xmlns:data="google:mobile:data">\`, so with the documented form
its NACKs and control messages are lost to it (it only learns of a drain
when the stream ends, and resends everything then), and with the prefixed
form its ACKs too, and its window never empties.

| wire form | client | exit | client counts | the fake's stats |
|:---|:---|---:|:---|:---|
EOF
	printf '%s\n' "${wire_rows[@]}"
	for name in aioxmpp libstrophe xmpp4r; do
		echo
		sed -n "/^### $name\$/,\$p" "$work/$name.md" | sed 's/^### /## /'
	done
} >"$out"
echo "== wrote $out"
