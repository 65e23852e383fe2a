#!/usr/bin/env bash
# Runs ccsbench (both clients) against Prosody and ejabberd from Debian on
# loopback and against "ccsbench fake" started as a separate process, and
# writes what the driver said to results/interop-servers.md. See README.md
# here. ejabberd is optional: when it cannot be installed or started, its
# cases are skipped with a line in the results.
set -u
# Ports: BASE Prosody STARTTLS, BASE+1 Prosody direct TLS, BASE+2 fake,
# BASE+3 ejabberd STARTTLS, BASE+4 ejabberd direct TLS, BASE+5 ejabberd's
# Erlang distribution (for ejabberdctl), BASE+9 unused.
BASE=${BASE:-$((20000 + RANDOM % 20000))}
cd "$(dirname "$0")/../../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/results/interop-servers.md}
TMP=$(mktemp -d /tmp/ccsbench-interop-servers.XXXXXX)
B=$TMP/ccsbench
KEY=interop-key-0123456789
PRO_PID= FAKE_PID= EJ_PID=
cleanup() {
	[ -n "$PRO_PID" ] && kill "$PRO_PID" 2>/dev/null
	if [ -n "$EJ_PID" ]; then # ask the node to stop, give it 10 s, then end its process group
		ejctl stop >/dev/null 2>&1
		for _ in $(seq 100); do kill -0 -- -"$EJ_PID" 2>/dev/null || break; sleep 0.1; done
		kill -- -"$EJ_PID" 2>/dev/null
	fi
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v prosody >/dev/null; then
	echo "installing prosody (apt-get)" >&2
	apt-get update -qq && apt-get install -y -qq prosody >/dev/null || { echo "cannot install prosody" >&2; exit 1; }
fi
go build -o "$B" ./cmd/ccsbench || exit 1

# Prosody on 127.0.0.1: $BASE is its c2s port (STARTTLS), $((BASE+1)) its
# direct TLS port (XEP-0368); host gcm.googleapis.com, user 42.
P=$TMP/prosody
mkdir -p "$P/data"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=gcm.googleapis.com \
	-addext "subjectAltName=DNS:gcm.googleapis.com,IP:127.0.0.1" -keyout "$P/key.pem" -out "$P/cert.pem" 2>/dev/null
cat > "$P/prosody.cfg.lua" <<CFG
pidfile = "$P/prosody.pid"
data_path = "$P/data"
log = { info = "$P/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $BASE }
c2s_direct_tls_ports = { $((BASE+1)) }
s2s_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }
modules_disabled = { "s2s"; "offline" }
authentication = "internal_plain"
c2s_require_encryption = false
ssl = { certificate = "$P/cert.pem"; key = "$P/key.pem" }
VirtualHost "gcm.googleapis.com"
CFG
AS=()
if [ "$(id -u)" = 0 ]; then chmod 755 "$TMP"; chown -R prosody:prosody "$P"; AS=(runuser -u prosody --); fi
"${AS[@]}" prosodyctl --config "$P/prosody.cfg.lua" register 42 gcm.googleapis.com "$KEY" >/dev/null 2>&1
"${AS[@]}" prosody --config "$P/prosody.cfg.lua" -F >/dev/null 2>&1 &
PRO_PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$((BASE+1))) 2>/dev/null && break; sleep 0.1; done
[ -n "${DEBUG:-}" ] && cat "$P/prosody.log" >&2
PVER=$(dpkg-query -W -f='${Version}' prosody 2>/dev/null || prosody --version 2>/dev/null | head -1)

# ejabberd on 127.0.0.1 from its own config, spool and log directories
# (not the system service): $((BASE+3)) a c2s port that requires STARTTLS
# (as Debian's default config), $((BASE+4)) a c2s port with TLS from the
# first byte ("tls: true"); host gcm.googleapis.com, user 42. ejabberdctl
# reaches the node over Erlang distribution on $((BASE+5)) (no epmd).
E=$TMP/ejabberd EJ_SKIP=
if ! command -v ejabberdctl >/dev/null; then
	echo "installing ejabberd (apt-get)" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ejabberd >/dev/null; } 2>/dev/null || EJ_SKIP="it is not installed and apt-get could not install it"
fi
ejctl() {
	"${EJAS[@]}" env HOME="$E/home" "$EJCTL" --config-dir "$E" --config "$E/ejabberd.yml" --ctl-config "$E/ejabberdctl.cfg" \
		--spool "$E/spool" --logs "$E/logs" "$@"
}
if [ -z "$EJ_SKIP" ]; then
	mkdir -p "$E/spool" "$E/logs" "$E/home"
	cp "$P/key.pem" "$E/key.pem"; cat "$P/cert.pem" >> "$E/key.pem"
	cp /etc/ejabberd/inetrc "$E/inetrc" 2>/dev/null || echo '{lookup,["file","native"]}.' > "$E/inetrc"
	cat > "$E/ejabberd.yml" <<CFG
loglevel: info
hosts:
  - gcm.googleapis.com
certfiles:
  - "$E/key.pem"
auth_method: internal
auth_password_format: plain
listen:
  -
    port: $((BASE+3))
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
  -
    port: $((BASE+4))
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
CFG
	cat > "$E/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ccsbench-interop@localhost
ERL_DIST_PORT=$((BASE+5))
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_BYPASS_WARNINGS=true
CFG
	# ejabberdctl runs only as root (which it turns into user ejabberd)
	# or as user ejabberd: as root, run it as ejabberd; as anyone else, a
	# copy that runs as the current user.
	EJCTL=$(command -v ejabberdctl) EJAS=()
	if [ "$(id -u)" = 0 ]; then
		chmod 755 "$TMP"; chown -R ejabberd "$E"; EJAS=(runuser -u ejabberd --)
	elif [ "$(id -un)" != ejabberd ]; then
		sed 's/^INSTALLUSER=.*/INSTALLUSER=/' "$EJCTL" > "$E/ejabberdctl"; chmod +x "$E/ejabberdctl"; EJCTL=$E/ejabberdctl
	fi
	setsid bash -c "$(declare -f ejctl); $(declare -p E EJCTL EJAS); ejctl foreground" >"$E/foreground.log" 2>&1 &
	EJ_PID=$!
	for _ in $(seq 150); do
		(exec 3<>/dev/tcp/127.0.0.1/$((BASE+4))) 2>/dev/null && break
		kill -0 "$EJ_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! (exec 3<>/dev/tcp/127.0.0.1/$((BASE+4))) 2>/dev/null; then
		EJ_SKIP="it did not start listening (waited up to 15 s); the end of its output: $(tail -n 3 "$E/foreground.log" | tr '\n`' '  ' | cut -c1-300)"
	elif ! ejctl register 42 gcm.googleapis.com "$KEY" >"$E/register.log" 2>&1; then
		EJ_SKIP="ejabberdctl register failed: $(head -c 200 "$E/register.log")"
	fi
	[ -n "${DEBUG:-}" ] && cat "$E/foreground.log" >&2
fi
EVER=$(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null)

export CCSBENCH_API_KEY=$KEY
COMMON=(--sender-id 42 --conns 2 --messages 50 --rate 200 --drain-timeout 2s --progress=false)
{
echo "# ccsbench run against servers written by others"
echo
echo "Regenerated by \`make interop-servers\` ($(date -u +%Y-%m-%dT%H:%MZ), $("$B" version 2>/dev/null | head -1))."
echo "Prosody $PVER from Debian on 127.0.0.1 (c2s STARTTLS port $BASE, direct TLS port $((BASE+1)),"
echo "VirtualHost gcm.googleapis.com, user 42 with the API key as password, self-signed certificate)."
if [ -z "$EJ_SKIP" ]; then
	echo "ejabberd $EVER from Debian on 127.0.0.1 (c2s port $((BASE+3)) with \`starttls_required: true\`, c2s port $((BASE+4)) with"
	echo "\`tls: true\`, host gcm.googleapis.com, user 42 registered with ejabberdctl, the same certificate)."
else
	echo "ejabberd: skipped, $EJ_SKIP."
fi
echo "Each case: the command, its exit status, how long it took and what it wrote on standard error."
echo
}> "$OUT"

runcase() { # title, args...
	local title=$1; shift
	local err=$TMP/err json=$TMP/r.json
	rm -f "$json"
	local t0=$(date +%s%N)
	timeout 120 "$B" run "${COMMON[@]}" "$@" --json "$json" >/dev/null 2>"$err"
	local code=$? ms=$((($(date +%s%N) - t0) / 1000000))
	{
	echo "## $title"
	echo
	echo '```'
	echo "\$ ccsbench run ${COMMON[*]} $* --json r.json   # exit $code after $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
	cat "$err"
	if [ -s "$json" ]; then
		python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print("counts:", {k: c[k] for k in ("messages","acked","nacked","stanza_errors","lost","unresolved","strays","stray_kinds") }, "error_conditions:", c.get("error_conditions", {}))' "$json"
	fi
	echo '```'
	echo
	} >> "$OUT"
}

for c in native mellium; do
	T=(--client $c --target 127.0.0.1:$((BASE+1)) --ca "$P/cert.pem")
	runcase "Prosody, direct TLS port, --client $c (SASL user SENDER@gcm.googleapis.com, the CCS form)" "${T[@]}"
	runcase "Prosody, direct TLS port, --client $c, --sasl-user local" "${T[@]}" --sasl-user local
	runcase "Prosody, direct TLS port, --client $c, wrong password" "${T[@]}" --sasl-user local --api-key wrong-key
	runcase "Prosody, direct TLS port, --client $c, --login-domain fcm (a host Prosody does not serve)" "${T[@]}" --sasl-user local --login-domain fcm
	runcase "Prosody, STARTTLS-only c2s port, --client $c" --client $c --target 127.0.0.1:$BASE --ca "$P/cert.pem"
	runcase "Prosody, STARTTLS-only c2s port, --client $c, --tls starttls, --sasl-user local" --client $c --target 127.0.0.1:$BASE --ca "$P/cert.pem" --tls starttls --sasl-user local
	runcase "Prosody, STARTTLS-only c2s port, --client $c, --tls none, --sasl-user local (Prosody offers PLAIN only over TLS)" --client $c --target 127.0.0.1:$BASE --tls none --sasl-user local
	runcase "wrong host (nothing listens), --client $c" --client $c --target 127.0.0.1:$((BASE+9)) --ca "$P/cert.pem"
done

if [ -z "$EJ_SKIP" ]; then
	for c in native mellium; do
		T=(--client $c --target 127.0.0.1:$((BASE+4)) --ca "$P/cert.pem")
		S=(--client $c --target 127.0.0.1:$((BASE+3)))
		runcase "ejabberd, direct TLS port, --client $c (SASL user SENDER@gcm.googleapis.com, the CCS form)" "${T[@]}"
		runcase "ejabberd, direct TLS port, --client $c, --sasl-user local" "${T[@]}" --sasl-user local
		runcase "ejabberd, direct TLS port, --client $c, wrong password" "${T[@]}" --api-key wrong-key
		runcase "ejabberd, direct TLS port, --client $c, --login-domain fcm (a host ejabberd does not serve)" "${T[@]}" --login-domain fcm
		runcase "ejabberd, STARTTLS c2s port, --client $c" "${S[@]}" --ca "$P/cert.pem"
		runcase "ejabberd, STARTTLS c2s port, --client $c, --tls starttls" "${S[@]}" --ca "$P/cert.pem" --tls starttls
		runcase "ejabberd, STARTTLS c2s port, --client $c, --tls none (the port requires STARTTLS)" "${S[@]}" --tls none
	done
	cat >> "$OUT" <<'TXT'
## ejabberd: what it did on the wire

Seen with a raw TLS client on the direct TLS port (badccs's ejabberd mode
in the Go tests replays it): the stream features have no whitespace between
children (so mellium's check for it is not triggered) and offer DIGEST-MD5
and PLAIN before the SCRAM mechanisms; `SENDER@gcm.googleapis.com` is taken
as the SASL user (Prosody refuses it); after the bind, a CCS message (no
`to`, so addressed to the user's own bare JID) is bounced from the bare JID
as `type='error'` with `<service-unavailable/>` and the text "User session
not found", keeping the `<gcm>` payload (so the driver resolves each as a
stanza error by its message_id) and the stanza id only when one was set.
Had the client sent `<presence/>` (the driver does not), ejabberd would
instead deliver each message back to the sending connection as a plain
message carrying the downstream JSON. A stream header to a host it does not
serve gets `<host-unknown/>` with no text.

TXT
else
	printf '## ejabberd\n\nSkipped: %s.\n\n' "$EJ_SKIP" >> "$OUT"
fi

# ccsbench fake as a separate process, each wire form and the FCM login.
for form in documented prefixed default-ns; do
	"$B" fake --listen 127.0.0.1:$((BASE+2)) --sender-id 42 --api-key "$KEY" --wire-form $form --cert-out "$TMP/fake.pem" >"$TMP/fake.log" 2>&1 &
	FAKE_PID=$!
	for _ in $(seq 50); do [ -s "$TMP/fake.pem" ] && (exec 3<>/dev/tcp/127.0.0.1/$((BASE+2))) 2>/dev/null && break; sleep 0.1; done
	for c in native mellium; do
		runcase "ccsbench fake --wire-form $form, --client $c" --client $c --target 127.0.0.1:$((BASE+2)) --ca "$TMP/fake.pem"
		[ $form = documented ] && runcase "ccsbench fake --wire-form $form, --client $c, --login-domain fcm" --client $c --target 127.0.0.1:$((BASE+2)) --ca "$TMP/fake.pem" --login-domain fcm
	done
	kill $FAKE_PID; wait $FAKE_PID 2>/dev/null; FAKE_PID=; rm -f "$TMP/fake.pem"
done
cat >> "$OUT" <<'TXT'
## Fake CCS servers by other authors

None found to run. npm: `npm search` is not served by this registry mirror
(404 for "fcm xmpp", "gcm ccs", "fcm mock server", "gcm xmpp server",
"firebase cloud messaging xmpp"); `npm view` of node-gcm-ccs, fcm-xmpp and
gcm-ccs-mock: not found; node-xcs 0.1.8 exists but is a CCS client (app
server side), not a server. Go module list: the only XMPP modules are the
client libraries github.com/xmppo/go-xmpp, gosrc.io/xmpp and mellium.im/xmpp.
TXT
echo "wrote $OUT" >&2
