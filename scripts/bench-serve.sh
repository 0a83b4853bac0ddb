#!/usr/bin/env bash
# Measures the decision service under load, on loopback, with wrk (Debian's
# package `wrk`) sharing the machine's cores with the service.
#
#   scripts/bench-serve.sh [DIR]          (default target/bench-serve)
#
# Builds the release binary and the generator, writes the generated world
# (100,000 clients, 2,000 staff, 300 locations) and 1,000,000 events into
# DIR once, starts `commroute serve` on it with the shipped rules, and prints
# for POST /v1/inbound at 1, 16 and 64 connections (RUNS runs of SECS
# seconds each, default 3 x 10 s): decisions/s, p50 and p99 latency and
# non-2xx answers; then POST /v1/batch of the million events (examples/batch_client.rs);
# idle RSS and peak RSS; and the load average before each run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-serve}
secs=${SECS:-10}
runs=${RUNS:-3}
bin=${BIN:-target/release/commroute}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin commroute --example generate --example batch_client
fi
gen=${GEN:-target/release/examples/generate}
client=${CLIENT:-$(dirname "$gen")/batch_client}
mkdir -p "$dir"
if [ ! -f "$dir/world.yaml" ]; then
  "$gen" --out "$dir" --events 1000000 >/dev/null
fi
# Bodies for /v1/inbound: the generated client messages without their `type`.
if [ ! -f "$dir/inbound-bodies.jsonl" ]; then
  grep '"type":"inbound"' "$dir/events.jsonl" | head -20000 | sed 's/"type":"inbound",//' > "$dir/inbound-bodies.jsonl"
fi

"$bin" serve --world "$dir/world.yaml" --listen 127.0.0.1:0 ${SERVE_ARGS:-} 2> "$dir/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q '^listening on' "$dir/serve.log" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o 'http://[0-9.:]*' "$dir/serve.log" | head -1)
[ -n "$url" ] || { echo "the service did not start:" >&2; cat "$dir/serve.log" >&2; exit 2; }
rss() { awk -v k="$1" '$1 == k":" { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status; }
echo "service: $bin on $url, world $dir/world.yaml; idle RSS $(rss VmRSS)"

for conns in 1 16 64; do
  threads=$(( conns < 2 ? 1 : 2 ))
  for run in $(seq 1 "$runs"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s scripts/wrk-decisions.lua "$url" -- "$dir/inbound-bodies.jsonl" /v1/inbound)
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    errs=$(awk '/Socket errors/ { print $0 }' <<<"$out")
    echo "inbound c=$conns run=$run: ${rps} decisions/s, p50 $p50, p99 $p99, non-2xx ${bad:-0} ${errs} (load $load)"
  done
done
echo "RSS under load: now $(rss VmRSS), peak $(rss VmHWM)"

for run in $(seq 1 "$runs"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  lines=$(wc -l < "$dir/events.jsonl")
  # The body sent and the answer read on two threads (examples/batch_client.rs).
  echo "batch run=$run: $lines events: $("$client" "${url#http://}" "$dir/events.jsonl") (load $load)"
done
echo "peak RSS: $(rss VmHWM)"
