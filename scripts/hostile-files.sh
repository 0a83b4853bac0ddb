#!/usr/bin/env bash
# Measures what each hostile file costs the release binary: exit code, the
# first line of the error, wall time and peak memory (maximum resident set
# size from /usr/bin/time -v). Generated files go to a temporary directory
# and are removed afterwards; nothing here is committed.
#
#   cargo build --release && scripts/hostile-files.sh
#
# Needs /usr/bin/time (Debian: apt-get install time) and python3.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${COMMROUTE:-target/release/commroute}
[ -x "$bin" ] || { echo "build the release binary first: cargo build --release" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A world of N clients (about 190 bytes each), in the documented format.
world() {
  python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("accounts:\n  - {id: glow, name: Glow Salons}\nlocations:")
for l in "ABCDEF":
    print(f"  - {{id: {l}, name: Location {l}, account: glow}}")
print("staff:\n  - {id: sam, name: Sam, locations: [A, B], logged_in_at: A}\nclients:")
for i in range(n):
    print(f"  - {{id: client-{i:07d}, name: Client number {i}, account: glow, locations: [A, B], "
          f"last_appointment_at: B, phone: \"+1 650 253 {i % 10000:04d}\", sms_opt_in: true}}")
PY
}

measure() { # name, then the command
  local name=$1; shift
  /usr/bin/time -v -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err"
  local code=$?
  local rss wall first
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time")
  first=$(grep -m1 -E '^(error|ok|warning)' "$tmp/err" || head -c 120 "$tmp/err")
  printf '%-34s exit %-3s %8s KB  %9s  %s\n' "$name" "$code" "$rss" "$wall" "$first"
}

route=("$bin" route inbound --client client-0000001 --world)

echo "== files"
world 100 > "$tmp/small.yaml"
measure "a valid small world (baseline)" "${route[@]}" "$tmp/small.yaml"
world 205000 > "$tmp/32mb.yaml"
echo "   (world just under the limit: $(du -h "$tmp/32mb.yaml" | cut -f1))"
measure "a 32 MB world (under the limit)" "${route[@]}" "$tmp/32mb.yaml"
world 1100000 > "$tmp/200mb.yaml"
echo "   (world over the limit: $(du -h "$tmp/200mb.yaml" | cut -f1))"
measure "a 200 MB world" "${route[@]}" "$tmp/200mb.yaml"
measure "an endless device (/dev/zero)" "${route[@]}" /dev/zero

python3 - "$tmp" <<'PY'
import sys
t = sys.argv[1]
lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
for i in range(1, 9):
    lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]")
open(f"{t}/bomb.yaml", "w").write("\n".join(lines) + "\naccounts: [*a8]\n")
open(f"{t}/flow.yaml", "w").write("accounts: " + "[" * 1_000_000 + "]" * 1_000_000 + "\n")
open(f"{t}/block.yaml", "w").write("".join(" " * i + f"k{i}:\n" for i in range(2_000)))
open(f"{t}/keys.yaml", "w").write("? " * 100_000 + "x\n")
open(f"{t}/utf8.yaml", "wb").write(b"accounts:\n  - {id: glow, name: Caf\xe9}\n")
PY
measure "an alias bomb (9^9 if expanded)" "${route[@]}" "$tmp/bomb.yaml"
measure "flow nesting 1,000,000 deep" "${route[@]}" "$tmp/flow.yaml"
measure "block nesting 2,000 deep" "${route[@]}" "$tmp/block.yaml"
measure "complex keys nested 100,000 deep" "${route[@]}" "$tmp/keys.yaml"
measure "invalid UTF-8" "${route[@]}" "$tmp/utf8.yaml"

echo "== read once and whole"
python3 - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
# A JSON Lines timeline whose world line holds a 13.7 MB world (75,000 clients);
# the second file has a problem in its last client, so it is reported.
clients = [{"id": f"c{i:06d}", "name": f"Client number {i}", "account": "glow",
            "locations": ["A", "B"], "phone": f"+1 650 253 {i % 10000:04d}", "sms_opt_in": True}
           for i in range(75_000)]
world = {"accounts": [{"id": "glow", "name": "Glow"}],
         "locations": [{"id": l, "name": l, "account": "glow"} for l in "AB"],
         "staff": [{"id": "sam", "name": "Sam", "locations": ["A", "B"]}], "clients": clients}
open(f"{t}/inline.jsonl", "w").write(json.dumps({"type": "world", "world": world}) + "\n")
clients[-1]["account"] = "nope"
open(f"{t}/inline-bad.jsonl", "w").write(json.dumps({"type": "world", "world": world}) + "\n")
open(f"{t}/nul.yaml", "w").write("accounts: []\nlocations: []\n\0staff: []\nclients: []\n")
PY
echo "   (inline world line: $(du -h "$tmp/inline.jsonl" | cut -f1))"
measure "a 13.7 MB inline world (valid)" "$bin" simulate "$tmp/inline.jsonl" --db "$tmp/inline.db" --quiet
measure "a 13.7 MB inline world, one problem" "$bin" simulate "$tmp/inline-bad.jsonl" --db "$tmp/inline-bad.db" --quiet
ln -s /dev/zero "$tmp/zero.jsonl"
measure "a JSON Lines timeline on /dev/zero" "$bin" simulate "$tmp/zero.jsonl" --db "$tmp/zero.db" --quiet
measure "a NUL byte in a world" "${route[@]}" "$tmp/nul.yaml"
mkfifo "$tmp/fifo.yaml"
(cat examples/glow-world.yaml > "$tmp/fifo.yaml" &)
measure "a world from a FIFO" "$bin" route inbound --world "$tmp/fifo.yaml" --client cleo
{ echo "world: $PWD/examples/glow-world.yaml"; echo "events:"
  for i in $(seq 0 69); do
    printf -- '- id: m%d\n  at: 2026-03-02T%02d:%02d:00Z\n  type: staff_message\n  staff: sam\n  client: cleo\n  text: Sorry :-[ we are late\n' "$i" $((9 + i / 60)) $((i % 60))
  done
} > "$tmp/sorry.yaml"
measure "70 unquoted 'Sorry :-[' messages" "$bin" simulate "$tmp/sorry.yaml" --db "$tmp/sorry.db" --quiet

echo "== rules directories"
mkdir -p "$tmp/loop"; ln -s "$tmp/loop/rules" "$tmp/loop/rules"
measure "a rules directory that loops" "$bin" check --rules "$tmp/loop/rules"
mkdir -p "$tmp/selflink"; cp rules/*.yaml "$tmp/selflink/"; rm "$tmp/selflink/inbound.yaml"
ln -s "$tmp/selflink/inbound.yaml" "$tmp/selflink/inbound.yaml"
measure "a rules file that links to itself" "$bin" check --rules "$tmp/selflink"
mkdir -p "$tmp/scen"; cp scenarios/inbound/01-*.yaml "$tmp/scen/"
for l in a b c d; do ln -s . "$tmp/scen/$l"; done
measure "scenarios with 4 links to themselves" "$bin" test "$tmp/scen"

echo "== scripts under three sets of limits"
# The defaults; the largest values the worst-case bound allows with the
# default operations; the most operations it allows with small values.
profiles=(
  "defaults|"
  "large-values|limits: {max_operations: 10000, max_string_size: 4096, max_array_size: 4096, max_map_size: 256}"
  "many-operations|limits: {max_operations: 1000000, max_string_size: 256, max_array_size: 32, max_map_size: 4}"
)
script_rules() { # directory, limits, script
  mkdir -p "$tmp/$1"; cp rules/*.yaml "$tmp/$1/"
  python3 - "$tmp/$1/inbound.yaml" "$3" "$2" <<'PY'
import sys
path, script, limits = sys.argv[1:]
text = open(path).read()
body = "".join(f"        {l}\n" for l in script.splitlines())
rule = f"rules:\n  - id: hostile\n    description: misbehaves\n    when:\n      rhai: |\n{body}    lands_at: client.locations\n\n"
text = text.replace("rules:\n", (f"{limits}\n" if limits else "") + rule, 1)
open(path, "w").write(text)
PY
}
for profile in "${profiles[@]}"; do
  name=${profile%%|*}; limits=${profile#*|}
  arr=$(sed -n 's/.*max_array_size: \([0-9]*\).*/\1/p' <<<"$limits"); arr=${arr:-1024}
  str=$(sed -n 's/.*max_string_size: \([0-9]*\).*/\1/p' <<<"$limits"); str=${str:-4096}
  declare -A scripts=(
    [endless-loop]='loop { }'
    [string-doubling]=$'let s = "x";\nloop { s += s; }'
    [recursion]=$'fn f(n) { f(n + 1) }\nf(0)'
    [map-of-big-strings]=$'let s = "";\ns.pad('$((str - 8))$', "x");\nlet m = #{};\nlet i = 0;\nloop { m[`k${i}`] = s + i; i += 1; }'
    [map-of-big-arrays]=$'let b = [];\nb.pad('$arr$', 0);\nlet m = #{};\nlet i = 0;\nloop { m[`k${i}`] = b; i += 1; }'
    [sorting-forever]=$'let a = [];\nlet x = 7;\nfor i in 0..'$arr$' { x = (x * 1103515245 + 12345) % 2147483648; a.push(x); }\nloop { let b = a; b.sort(); }'
  )
  for s in endless-loop string-doubling recursion map-of-big-strings map-of-big-arrays sorting-forever; do
    script_rules "$name-$s" "$limits" "${scripts[$s]}"
    measure "$name: $s" "$bin" route inbound --rules "$tmp/$name-$s" --world examples/glow-world.yaml --client cleo
  done
done
