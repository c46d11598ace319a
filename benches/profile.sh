#!/usr/bin/env bash
# Where the time goes: callgrind instruction counts of ocapd serving (1) queueMessage calls to the
# counter vat and (2) awaited vat-to-vat deliveries between ping and pong, each phase zeroed and
# dumped on its own, then divided per message / per delivery. Instruction counts are stable on a
# noisy machine, unlike wall time. See docs/performance.md for what the figures say.
#
#   benches/profile.sh [N]       N messages and N deliveries (default 200)
#
# Needs valgrind (Debian: valgrind) and a release build with symbols:
#   CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
#     cargo build --release --bins --target-dir target/profile
# OCAP_PROFILE_BIN_DIR names that directory's release/ (default target/profile/release).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bin=${OCAP_PROFILE_BIN_DIR:-target/profile/release}
out=target/bench/profile
mkdir -p "$out"
rm -f "$out"/callgrind.*
home=$(mktemp -d /tmp/ocap-profile.XXXXXX)
export OCAP_HOME=$home
unset NOTIFY_SOCKET LISTEN_FDS
ctl() { "$bin/ocapctl" "$@"; }

valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" \
  "$bin/ocapd" --foreground --delivery-timeout 600 2>"$out/valgrind.log" &
daemon=$!
cleanup() { kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$home"; }
trap cleanup EXIT
for _ in $(seq 600); do [ -S "$home/daemon.sock" ] && ctl exec getStatus >/dev/null 2>&1 && break; sleep 0.1; done

bundles=$(dirname "$(find target -path '*/out/counter.bundle' -newer Cargo.toml -print -quit)")
cluster() { # bootstrap vat names…
  local boot=$1; shift
  local vats="" sep=""
  for v in "$@"; do vats+="$sep\"$v\":{\"bundleSpec\":\"file://$PWD/$bundles/$v.bundle\"}"; sep=","; done
  echo "{\"config\":{\"bootstrap\":\"$boot\",\"vats\":{$vats}}}"
}
counter=$(ctl exec launchSubcluster "$(cluster counter counter)" | sed -n 's/.*"rootKref": *"\([^"]*\)".*/\1/p')
ping=$(ctl exec launchSubcluster "$(cluster ping ping pong)" | sed -n 's/.*"rootKref": *"\([^"]*\)".*/\1/p')
# Warm up both paths (first deliveries load caches), then measure each phase on its own.
ctl exec queueMessage "[\"$counter\",\"resume\",[]]" >/dev/null
ctl exec queueMessage "[\"$ping\",\"rally\",[5]]" >/dev/null

callgrind_control -z "$daemon" >/dev/null
for _ in $(seq "$n"); do ctl exec queueMessage "[\"$counter\",\"resume\",[]]" >/dev/null; done
callgrind_control -d queueMessage "$daemon" >/dev/null

callgrind_control -z "$daemon" >/dev/null
# rally(k) is 2k deliveries: each ping, and the notify of its answer.
ctl exec queueMessage "[\"$ping\",\"rally\",[$((n / 2))]]" >/dev/null
callgrind_control -d vat-to-vat "$daemon" >/dev/null

for phase in queueMessage vat-to-vat; do
  file=$(grep -al "^desc: Trigger: dump $phase\$" "$out"/callgrind.* | tail -1)
  total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  echo "== $phase: $((total / n)) instructions per message/delivery ($n), from $file"
  callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null \
    | awk -v n="$n" '/^ *[0-9,]+ \(/ { c=$1; gsub(",","",c); $1=""; printf "%12d  %s\n", c/n, $0 }' \
    | head -40 || true # head closing the pipe early is not a failure
done
