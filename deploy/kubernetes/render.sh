#!/usr/bin/env bash
# Stamps the settings of one sharded run into the manifests of this folder
# and prints them on standard output, ready for `kubectl apply -f -`.
#
#   deploy/kubernetes/render.sh PART...   PART: fake pvc shards merge reader all
#
# Settings come from the environment (defaults in brackets):
#   IMAGE          the ccsbench image, e.g. registry.example.com/ccsbench:v1 (required
#                  for fake, shards and merge)
#   SHARDS         number of shard pods N [4]
#   JOB_ID         id of the sharded run, a DNS label of at most 40 characters
#                  [UTC date and time, e.g. 20260115-093000]
#   START_AT       RFC 3339 instant at which every shard starts sending
#                  [now + LEAD_SECONDS, computed once, here]
#   LEAD_SECONDS   time left for the pods to start and connect [120]
#   CONNS          connections of the whole run, at least SHARDS [64]
#   RATE_SHAPE     rate shape of the whole run, msgs/s (ccsbench help run) [20000]
#   DURATION       sending time [60s]
#   SEED           seed of the run, the same for every shard [1]
#   SENDER_ID      sender id the fake accepts and the shards send [123456789012]
#   STORAGE_CLASS  ReadWriteMany StorageClass of the results volume [cluster default]
#
# The job id and start time it used are printed on standard error: export
# them to render the merge step of the same run later.
set -euo pipefail
# bash 5.2 reads & in a ${x//pattern/replacement} as the match; the values
# are checked to hold no & or \ anyway.
shopt -u patsub_replacement 2>/dev/null || true

here=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "render.sh: $*" >&2
	exit 2
}

# utc_after prints the UTC time SECONDS from now in RFC 3339 with
# milliseconds (GNU date, or BSD date at whole seconds).
utc_after() {
	date -u -d "+$1 seconds" +%Y-%m-%dT%H:%M:%S.%3NZ 2>/dev/null ||
		date -u -v "+$1S" +%Y-%m-%dT%H:%M:%SZ
}

[ $# -gt 0 ] || die "usage: render.sh PART... (fake pvc shards merge reader all)"

: "${SHARDS:=4}" "${LEAD_SECONDS:=120}" "${CONNS:=64}" "${RATE_SHAPE:=20000}"
: "${DURATION:=60s}" "${SEED:=1}" "${SENDER_ID:=123456789012}" "${STORAGE_CLASS:=}"
: "${IMAGE:=}" "${JOB_ID:=$(date -u +%Y%m%d-%H%M%S)}"
[[ $LEAD_SECONDS =~ ^[0-9]+$ ]] || die "LEAD_SECONDS=$LEAD_SECONDS: want a number of seconds"
: "${START_AT:=$(utc_after "$LEAD_SECONDS")}"

# check NAME REGEX WHAT: the variable must match the extended regex.
check() {
	[[ ${!1} =~ $2 ]] || die "$1=${!1}: want $3"
}

parts=()
for p in "$@"; do
	case $p in
	fake | pvc | shards | merge | reader) parts+=("$p") ;;
	all) parts+=(fake pvc shards merge reader) ;;
	*) die "unknown part $p (want fake, pvc, shards, merge, reader or all)" ;;
	esac
done

vars=(IMAGE SHARDS JOB_ID START_AT CONNS RATE_SHAPE DURATION SEED SENDER_ID STORAGE_CLASS)
check IMAGE '^([A-Za-z0-9][A-Za-z0-9._/:@-]*)?$' "an image reference such as registry.example.com/ccsbench:v1"
check SHARDS '^[1-9][0-9]{0,4}$' "a number of shards from 1 to 65536"
((SHARDS <= 65536)) || die "SHARDS=$SHARDS: want a number of shards from 1 to 65536"
check JOB_ID '^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$' "a DNS label (a-z, 0-9, -) of at most 40 characters"
check START_AT '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$' \
	"an RFC 3339 time such as 2026-01-15T09:30:00.000Z"
check CONNS '^[1-9][0-9]{0,6}$' "a number of connections"
((CONNS >= SHARDS)) || die "CONNS=$CONNS: fewer than SHARDS=$SHARDS; every shard needs a connection"
check RATE_SHAPE '^[A-Za-z0-9.:+/@_-]+$' "a rate shape such as 20000 or sine:20000+-5000/60s (ccsbench help run)"
check DURATION '^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$' "a duration such as 60s or 5m"
check SEED '^[0-9]{1,19}$' "a seed (a decimal number)"
check SENDER_ID '^[A-Za-z0-9._-]+$' "a sender id"
check STORAGE_CLASS '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$' "a StorageClass name, or empty for the cluster default"

# STORAGE_CLASS goes into the manifest as YAML: null (the cluster default)
# when empty, a quoted name otherwise.
if [ -n "$STORAGE_CLASS" ]; then
	STORAGE_CLASS="\"$STORAGE_CLASS\""
else
	STORAGE_CLASS=null
fi

first=1
for p in "${parts[@]}"; do
	case $p in
	fake | shards | merge) [ -n "$IMAGE" ] || die "IMAGE is required for $p" ;;
	esac
	file=$p.yaml
	[ "$p" = pvc ] && file=results-pvc.yaml
	[ "$p" = reader ] && file=results-reader.yaml
	text=$(<"$here/$file")
	for v in "${vars[@]}"; do
		text=${text//"\${$v}"/${!v}}
	done
	[[ $text != *'${'* ]] || die "$file: a placeholder is left after stamping"
	[ $first = 1 ] || echo ---
	first=0
	printf '%s\n' "$text"
done
echo "render.sh: job $JOB_ID, $SHARDS shards, start at $START_AT" >&2
