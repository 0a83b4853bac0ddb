#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds from the repository's real files.
# The rules target's first byte picks the file it replaces (0 inbound,
# 1 delivery, 2 outbound), so each rules seed is that byte plus the file.
set -euo pipefail
cd "$(dirname "$0")"
root=..
mkdir -p corpus/rules_loader corpus/world_loader corpus/event_line corpus/scenario_loader
slot() { case "$(basename "$1")" in inbound*) printf '\0';; delivery*) printf '\1';; *) printf '\2';; esac; }
for f in "$root"/rules/*.yaml "$root"/tests/bad_input/rules/*.yaml; do
  { slot "$f"; cat "$f"; } > "corpus/rules_loader/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# Inbound rules whose first rule is a script, from the sandbox tests' hostile
# scripts and a few ordinary ones, so the fuzzer starts inside Rhai.
i=0
while IFS= read -r script; do
  i=$((i + 1))
  { printf '\0'; SCRIPT="$script" awk '
      /^rules:$/ { print "limits: {max_operations: 2000}"; print; print "  - id: scripted";
                   print "    description: a script"; print "    when: {rhai: \"" ENVIRON["SCRIPT"] "\"}";
                   print "    lands_at: client.locations"; next } { print }' "$root/rules/inbound.yaml"; } \
    > "corpus/rules_loader/script-$i.yaml"
done <<'SCRIPTS'
loop { }
let s = `x`; loop { s += s; }
let a = []; loop { a.push(1); }
let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }
fn f(n) { f(n + 1) } f(0)
client.locations.len() > 1 && client.last_appointment != ()
conversation.answering == `campaign` && client.locations.contains(`A`)
let x = [1]; let f = |v| v + x.len(); [1, 2].map(f).len() == 2
client.locations.filter(|l| l != `A`).len() > 0
SCRIPTS
for f in "$root"/examples/*.yaml "$root"/tests/bad_input/world/*.yaml; do
  cp "$f" corpus/world_loader/
done
for f in "$root"/scenarios/*/*.yaml "$root"/tests/bad_input/scenario/*.yaml; do
  cp "$f" "corpus/scenario_loader/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# Event lines: the documented examples, one file each and all together.
cat > corpus/event_line/documented.jsonl <<'JSONL'
{"id":"e1","type":"inbound","client":"cleo","answering":"confirmation@A"}
{"id":"e2","type":"inbound","client":"cleo","staff":"sam","from":"A"}
{"id":"e3","type":"inbound","client":"nina"}
{"id":"e4","type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm!"}
JSONL
i=0
while IFS= read -r line; do
  i=$((i + 1)); printf '%s\n' "$line" > "corpus/event_line/line-$i.json"
done < corpus/event_line/documented.jsonl
printf '{"id":"e5","type":"inbound","client":"omar","staff":"sam","answering":"campaign@B","extra":1}\n' > corpus/event_line/refused.json
ls corpus/* | head -3 >/dev/null
# Photos: the committed test images, a PDF header and a truncated JPEG.
mkdir -p corpus/photo_check
cp "$root"/tests/photos/*.jpg "$root"/tests/photos/*.gif "$root"/tests/photos/*.png "$root"/tests/photos/*.webp corpus/photo_check/
printf '%%PDF-1.7\n' > corpus/photo_check/pdf
printf '\xff\xd8\xff\xe0\x00\x10JFIF' > corpus/photo_check/truncated-jpeg
# JSON Lines timelines: the example day with its world inlined on line 1
# (the target refuses worlds named by path, so it never reads other files).
mkdir -p corpus/timeline_jsonl
cp seeds/day-inline-world.jsonl corpus/timeline_jsonl/
# The service's router: `METHOD PATH`, headers, an empty line, the body.
mkdir -p corpus/serve_router
printf 'POST /v1/inbound\nContent-Type: application/json\n\n{"id":"e1","client":"cleo","answering":"campaign@B"}' > corpus/serve_router/inbound
printf 'POST /v1/inbound?explain=true\n\n{"client":"cleo","staff":"sam","from":"A"}' > corpus/serve_router/explain
printf 'POST /v1/outbound\n\n{"client":"cleo","from_account":"glow-downtown","text":"See you at 3"}' > corpus/serve_router/outbound
printf 'GET /v1/rules\nAuthorization: Bearer x\n\n' > corpus/serve_router/rules
printf 'POST /v1/inbound\nContent-Type: application/xml\n\n<a/>' > corpus/serve_router/xml
