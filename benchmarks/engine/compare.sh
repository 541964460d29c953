#!/bin/bash
# Run the nexus engine benchmark and the go-workflows peer one after the
# other on this machine, same workload and flags, and print both lines and
# the ratios. Compare only figures from one run of this script: the load
# of the machine changes everything.
#
# usage: [N=2000] [RUNS=1] [PEERS=../shared/peers] benchmarks/engine/compare.sh [extra nexus flags...]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
peers="${PEERS:-$repo/../shared/peers}"
n="${N:-2000}"
runs="${RUNS:-1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && go build -o "$tmp/nexus-bench" ./benchmarks/engine)
(cd "$peers/goworkflows" && { [ -x bin/bench ] || go build -o bin/bench .; })

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

for i in $(seq 1 "$runs"); do
  echo "# $(date -u +%FT%TZ) load=$(cut -d' ' -f1-3 /proc/loadavg) run=$i"
  nx=$("$tmp/nexus-bench" -n "$n" -c 100 -single 50 -db "$tmp/nexus.db" "$@")
  echo "$nx"
  gw=$("$peers/goworkflows/bin/bench" -n "$n" -c 100 -single 50 -db "$tmp/gw.db")
  echo "$gw"
  echo "ratio nexus/go-workflows: wf_per_s $(ratio "$(field wf_per_s "$nx")" "$(field wf_per_s "$gw")")x," \
    "p50_single_ms $(field p50_single_ms "$nx") vs $(field p50_single_ms "$gw")" \
    "($(ratio "$(field p50_single_ms "$gw")" "$(field p50_single_ms "$nx")")x faster)"
done
