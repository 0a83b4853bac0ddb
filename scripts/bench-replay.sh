#!/usr/bin/env bash
# Measures replay throughput and peak memory on a generated timeline.
#
#   scripts/bench-replay.sh [EVENTS] [DIR]     (defaults: 1000000 target/bench)
#
# Builds the release binary and the generator, writes DIR/world.yaml and
# DIR/timeline.jsonl (examples/gen_timeline.rs, deterministic), replays it
# into a fresh DIR/bench.db with `--quiet` under /usr/bin/time -v, and prints
# the machine load, the events per second (wall clock and per CPU second)
# and the peak resident set size.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
dir=${2:-target/bench}
cargo build --release --quiet --bin commroute --example gen_timeline
target/release/examples/gen_timeline "$events" "$dir"
rm -f "$dir/bench.db" "$dir/bench.db-wal" "$dir/bench.db-shm"
echo "load: $(uptime)"
/usr/bin/time -v target/release/commroute simulate "$dir/timeline.jsonl" --db "$dir/bench.db" --quiet \
  > "$dir/out.txt" 2> "$dir/time.txt"
cat "$dir/out.txt"
grep -E "^replayed" "$dir/time.txt"
user=$(awk -F': ' '/User time/ {print $2}' "$dir/time.txt")
sys=$(awk -F': ' '/System time/ {print $2}' "$dir/time.txt")
awk -v n="$events" -v u="$user" -v s="$sys" 'BEGIN { printf "cpu: %.2f s user+sys, %.0f events per CPU second\n", u + s, n / (u + s) }'
grep -E "Elapsed|Percent of CPU|Maximum resident" "$dir/time.txt"
