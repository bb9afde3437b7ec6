#!/usr/bin/env bash
# The command-line contract: --help on every command exits 0; bad input exits 1 with one line on stderr.
set -u
bin=$1
tmp=$2
mkdir -p "$tmp"
fail=0
check_help() {
  if ! "$bin" "$@" --help > "$tmp/out" 2>&1 || ! grep -q usage "$tmp/out"; then
    echo "FAIL: ternspec $* --help"; fail=1
  fi
}
check_error() {  # expected substring, then the command
  local want=$1; shift
  timeout 60 "$bin" "$@" > /dev/null 2> "$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$tmp/err"; then
    echo "FAIL: ternspec $* -> rc $rc, $lines lines: $(cat "$tmp/err")"; fail=1
  fi
}
for c in inspect tokenize detokenize generate decode logits perplexity synth convert template; do check_help "$c"; done
check_help bench forward
check_help bench spec
check_help bench serve
check_help serve
"$bin" --version | grep -Eq 'kernels: (avx512vnni|avx2|scalar)' || { echo "FAIL: --version"; fail=1; }
"$bin" synth "$tmp/tiny.gguf" --shape tiny 2> /dev/null || { echo "FAIL: synth"; fail=1; }
printf 'GGUF\x03\x00\x00\x00' > "$tmp/trunc.gguf"
check_error "truncated" inspect "$tmp/trunc.gguf"
check_error "no such file" inspect "$tmp/missing.gguf"
check_error "unknown option --bogus" generate -m "$tmp/tiny.gguf" -p hi --bogus
check_error "unknown command" frobnicate
check_error "does not fit the context of 8" generate -m "$tmp/tiny.gguf" -p "a long prompt of many bytes" --ctx 8
check_error "exactly one of -p TEXT or -f FILE" generate -m "$tmp/tiny.gguf"
check_error "unknown drafter" decode -m "$tmp/tiny.gguf" -p hi --draft bogus
check_error "not a token id" detokenize -m "$tmp/tiny.gguf" 99999
check_error "unknown shape" synth "$tmp/x.gguf" --shape huge
check_error "needs a draft model" decode -m "$tmp/tiny.gguf" -p hi --draft mtp
# Issue #37's fixes: weights given to a drafter that has none are an error (were a warning, exit 0); a
# repeated option is an error, as the README says; structured-output options are checked.
check_error "takes no weights" decode -m "$tmp/tiny.gguf" -p hi --draft suffix -md /nonexistent
check_error "n-predict" generate -m "$tmp/tiny.gguf" -p hi -n 5 -n 7
check_error "not enforced" generate -m "$tmp/tiny.gguf" -p hi -j '{"type": "object", "properties": {"a": {"type": "string", "pattern": "x"}}}'
check_error "one of --json-object" generate -m "$tmp/tiny.gguf" -p hi --json-object -j '{"type": "object"}'
# A GGUF whose general.alignment is a string: the error names the file (it did not).
/usr/bin/python3 -c '
import struct, sys
key, val = b"general.alignment", b"32"
sys.stdout.buffer.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key +
                        struct.pack("<IQ", 8, len(val)) + val)' > "$tmp/string-alignment.gguf"
check_error "string-alignment.gguf: metadata general.alignment: expected an integer" inspect "$tmp/string-alignment.gguf"
# -cnv: Ctrl-C (SIGINT) stops the reply being written and the conversation goes on; /exit leaves, exit 0.
models_dir=$(cd "$(dirname "$0")/../models" && pwd)
trap '' PIPE  # a process that died early must fail the check below, not kill this script
rm -f "$tmp/cnv-in"; mkfifo "$tmp/cnv-in"
timeout 60 "$bin" generate -m "$models_dir/tern-pystd-7m" -cnv -n 100000 --ignore-eos -t 1 < "$tmp/cnv-in" > "$tmp/cnv-out" 2> /dev/null &
cnv=$!
exec 7> "$tmp/cnv-in"
echo "Write a long function." >&7
# Interrupt as soon as the reply has begun (it fills the 2K context in well under a second).
for _ in $(seq 500); do
  [ "$(wc -c < "$tmp/cnv-out")" -gt 8 ] && break
  sleep 0.01
done
kill -INT "$cnv"
sleep 0.5
echo "/exit" >&7
exec 7>&-
wait "$cnv"; rc=$?
if [ "$rc" -ne 0 ] || ! grep -q "\[interrupted\]" "$tmp/cnv-out"; then
  echo "FAIL: -cnv Ctrl-C: exit $rc, $(tail -c 200 "$tmp/cnv-out")"; fail=1
fi
trap - PIPE
# serve takes -c/--ctx-size and -k auto; a bare -md belongs to its --draft (it went to the MTP drafter too).
models=$(cd "$(dirname "$0")/../models" && pwd)
for extra in "-c 256 -k auto --draft suffix" "--draft eagle -md $models/tern-pystd-7m-eagle3"; do
  port=$(( 20000 + RANDOM % 20000 ))
  # shellcheck disable=SC2086
  timeout 60 "$bin" serve -m "$models/tern-pystd-7m" --port "$port" -t 1 $extra > /dev/null 2> "$tmp/serve-err" &
  pid=$!
  up=0
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  [ "$up" = 1 ] || { echo "FAIL: serve $extra did not start: $(cat "$tmp/serve-err")"; fail=1; }
  kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null
done
check_error "no MTP layers" decode -m "$tmp/tiny.gguf" -p hi --draft mtp --draft-model "$tmp/tiny.gguf"
echo '{"prompt": "hi"}' > "$tmp/p.jsonl"
check_error "parallel: 0 is out of range" decode -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" --parallel 0
check_error "not eagle3" decode -m "$tmp/tiny.gguf" -p hi --draft eagle --draft-model "$tmp/tiny.gguf"
printf 'caf\xe9 ok\n' > "$tmp/latin1.txt"
"$bin" tokenize -m "$tmp/tiny.gguf" -f "$tmp/latin1.txt" > /dev/null 2>&1 || { echo "FAIL: invalid UTF-8 file must be accepted with replacement"; fail=1; }
n=$("$bin" generate -m "$tmp/tiny.gguf" -p "hello" -n 5 --ignore-eos --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
[ "$n" = 5 ] || { echo "FAIL: generate --json ids ($n)"; fail=1; }
# Options: unknown names, stray words and numbers out of range are errors naming the option (issue 18).
for o in -md -ngl -zzz; do check_error "unknown option $o" generate -m "$tmp/tiny.gguf" -p hi $o 1; done
check_error 'unexpected argument "stray"' generate -m "$tmp/tiny.gguf" -p hi stray
check_error 'unexpected argument' inspect "$tmp/tiny.gguf" "$tmp/tiny.gguf"
check_error "n-predict: 1099511627776 is out of range" generate -m "$tmp/tiny.gguf" -p hi -n 1099511627776
check_error "k: 4294967297 is out of range" decode -m "$tmp/tiny.gguf" -p hi -k 4294967297
check_error "top-k: 4294967297 is out of range" generate -m "$tmp/tiny.gguf" -p hi --top-k 4294967297
check_error "n-predict: \"7.5\" is not an integer" generate -m "$tmp/tiny.gguf" -p hi -n 7.5
check_error "temp: \"nan\" is not a finite number\|temp: nan is not a finite number" generate -m "$tmp/tiny.gguf" -p hi --temp nan
for l in , ,, "" 1,,2; do check_error "tokens:" bench forward -m "$tmp/tiny.gguf" --tokens "$l"; done
check_error "prefix: 2147483647 is out of range" bench forward -m "$tmp/tiny.gguf" --prefix 2147483647
check_error "option -n needs a value" generate -m "$tmp/tiny.gguf" -p hi -n
n=$("$bin" generate -m "$tmp/tiny.gguf" -p "hello" -n=3 --ignore-eos --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
[ "$n" = 3 ] || { echo "FAIL: -n=3 gave $n tokens"; fail=1; }
n=$("$bin" generate -m "$tmp/tiny.gguf" -p "hello" --n-predict=4 --ignore-eos --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
[ "$n" = 4 ] || { echo "FAIL: --n-predict=4 gave $n tokens"; fail=1; }
# Outputs: checked before the work, and every write after it.
check_error "is a folder" bench spec -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" --json /
check_error "does not exist" bench spec -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" --json /nonexistent/x
check_error "is a folder" bench serve -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" --json "$tmp"
check_error "plot /dev/full: write failed" bench spec -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" -n 2 --reps 1 --draft suffix --plot /dev/full
check_error "npy /dev/full: write failed" logits -m "$tmp/tiny.gguf" -p hi --npy /dev/full
"$bin" generate -m "$tmp/tiny.gguf" -p hi -n 2 --json > /dev/full 2> "$tmp/err"
{ [ $? -eq 1 ] && grep -q "writing standard output failed" "$tmp/err"; } || { echo "FAIL: stdout to /dev/full"; fail=1; }
# A --prompts file with bad lines: each reported by number, the others served, exit 1 (one or N at a time).
printf '{"prompt": "hello"}\nnot json\n{"prompt": ""}\n\n{"prompt": "%s"}\n{"prompt": "bye"}\n' "$(head -c 3000 /dev/zero | tr '\0' a)" > "$tmp/mixed.jsonl"
for par in 1 2; do
  "$bin" decode -m "$tmp/tiny.gguf" --draft suffix --prompts "$tmp/mixed.jsonl" -n 3 --ctx 64 --parallel $par --json > "$tmp/mixed.json" 2> "$tmp/err"
  rc=$?
  ok=$(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sum(1 for r in j["requests"] if "text" in r), j["failed"])' "$tmp/mixed.json" 2>/dev/null)
  if [ $rc -ne 1 ] || [ "$ok" != "2 3" ] || ! grep -q "mixed.jsonl:2: needs a JSON object" "$tmp/err" || ! grep -q "mixed.jsonl:3: the prompt is empty" "$tmp/err" || ! grep -q "mixed.jsonl:5: prompt of 3000" "$tmp/err"; then
    echo "FAIL: --prompts with bad lines (--parallel $par): rc $rc, served/failed '$ok': $(cat "$tmp/err")"; fail=1
  fi
done
# A prompt that cannot fit is refused before it is tokenized (50 MB took 28 s and 1 GB).
head -c 20000000 /dev/zero | tr '\0' a > "$tmp/huge.txt"
start=$(date +%s)
check_error "bytes (at least" generate -m "$tmp/tiny.gguf" -f "$tmp/huge.txt"
[ $(( $(date +%s) - start )) -lt 20 ] || { echo "FAIL: a huge prompt took over 20 s to refuse"; fail=1; }
rm -f "$tmp/huge.txt"
# A kernel override that cannot be honoured is an error, not ignored.
TERNSPEC_KERNELS=avx3 "$bin" --version > /dev/null 2> "$tmp/err"
{ [ $? -eq 1 ] && grep -q "TERNSPEC_KERNELS=avx3 is not a kernel path" "$tmp/err"; } || { echo "FAIL: TERNSPEC_KERNELS=avx3"; fail=1; }
TERNSPEC_KERNELS=scalar "$bin" --version | grep -q "kernels: scalar" || { echo "FAIL: TERNSPEC_KERNELS=scalar"; fail=1; }
# A FIFO is refused, not waited on.
rm -f "$tmp/fifo"; mkfifo "$tmp/fifo"
check_error "not a regular file" inspect "$tmp/fifo"
# llama.cpp's spellings where ternspec's differ: -c/--ctx-size, -s, --draft-max, -md/--model-draft.
"$bin" decode -m "$tmp/tiny.gguf" -p hi -n 4 -c 64 -s 3 --draft-max 2 --draft ngram > /dev/null 2>&1 \
  || { echo "FAIL: -c -s --draft-max"; fail=1; }
"$bin" decode -m "$tmp/tiny.gguf" -p hi -n 4 --ctx-size 64 --draft mtp -md "$tmp/missing.gguf" > /dev/null 2> "$tmp/err"
grep -q "missing.gguf" "$tmp/err" || { echo "FAIL: -md does not reach the drafter: $(cat "$tmp/err")"; fail=1; }
check_error "does not fit the context of 8" generate -m "$tmp/tiny.gguf" -p "a long prompt of many bytes" -c 8
# Stop strings (--stop, llama.cpp's -r/--reverse-prompt): the text ends before the first one, stop reason
# "stop"; -e turns \n into a newline; --system-prompt needs --chat; unknown escapes are errors.
m=$(dirname "$0")/../models/tern-pystd-7m
full=$("$bin" generate -m "$m" -p 'def f(x):\n    return' -e -n 24 --json 2> /dev/null)
cut=$(printf '%s' "$full" | /usr/bin/python3 -c 'import json,sys; t=json.load(sys.stdin)["text"]; print(t[4:7])')
out=$("$bin" generate -m "$m" -p 'def f(x):\n    return' -e -n 24 -r "$cut" --json 2> /dev/null)
printf '%s\n%s' "$full" "$out" | /usr/bin/python3 -c '
import json, sys
full, out = (json.loads(l) for l in sys.stdin.read().split("\n"))
cut = sys.argv[1]
ok = out["stop_reason"] == "stop" and out["text"] == full["text"][: full["text"].index(cut)]
sys.exit(0 if ok else 1)' "$cut" || { echo "FAIL: --stop/-r: $out"; fail=1; }
streamed=$("$bin" generate -m "$m" -p 'def f(x):\n    return' -e -n 24 --stop "$cut" 2> /dev/null)
[ "$streamed" = "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["text"], end="")')" ] \
  || { echo "FAIL: streamed text with --stop: '$streamed'"; fail=1; }
# --stop is repeatable (its help says so): the first of several found ends the text.
twice=$("$bin" generate -m "$m" -p 'def f(x):\n    return' -e -n 24 --stop "never-in-the-output" -r "$cut" --json 2> /dev/null)
[ "$(printf '%s' "$twice" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["text"], end="")')" = \
  "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["text"], end="")')" ] \
  || { echo "FAIL: two stop strings: '$twice'"; fail=1; }
check_error "At Most 1" generate -m "$m" -p hi -n 4 --kv f16 --kv f32
check_error "needs --chat" generate -m "$m" -p hi -sys "be brief"
check_error 'unknown escape' generate -m "$m" -p 'a\q' -e
# Chat templates: --chat renders the model's template (equal to `ternspec template`); a template outside
# the supported subset, or one that refuses the conversation, is an error naming the file and line.
"$bin" template -m "$m" -p hi -sys "be brief" > "$tmp/prompt.txt" 2> /dev/null
want=$(printf '<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n')
[ "$(cat "$tmp/prompt.txt")" = "$want" ] || { echo "FAIL: template -p -sys: $(cat "$tmp/prompt.txt")"; fail=1; }
a=$("$bin" generate -m "$m" -p hi -sys "be brief" --chat -n 8 --json 2> /dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["prompt_tokens"])')
b=$("$bin" template -m "$m" -p hi -sys "be brief" --ids | wc -w)
[ "$a" = "$b" ] || { echo "FAIL: --chat prompt is $a tokens, template --ids $b"; fail=1; }
printf 'line one\n{{ messages | frobnicate }}' > "$tmp/bad.jinja"
check_error "bad.jinja: chat template line 2: the filter 'frobnicate' is not supported" template --chat-template-file "$tmp/bad.jinja" -p hi
check_error "bad.jinja" generate -m "$m" -p hi --chat --chat-template-file "$tmp/bad.jinja"
printf "{{ raise_exception('only one turn please') }}" > "$tmp/refuse.jinja"
check_error "only one turn please" template --chat-template-file "$tmp/refuse.jinja" -p hi
check_error "none.jinja: cannot open" template --chat-template-file "$tmp/none.jinja" -p hi
# A template that hoards strings (twenty of 32 MiB) ends at the render budget: exit 1 naming it, in under
# 20 s and below 1 GB resident (it reached 1.4 GB before the budget; issue #39).
printf '%s' "{% set big = 'x' * 100000 %}{% set big = big * 320 %}{% set ns = namespace(keep=[]) %}{% for i in range(20) %}{% set ns.keep = ns.keep + [big ~ i] %}{% endfor %}{{ ns.keep | length }}" > "$tmp/hog.jinja"
/usr/bin/python3 - "$bin" "$tmp/hog.jinja" << 'PY' || fail=1
import resource, subprocess, sys, time
t0 = time.time()
p = subprocess.run([sys.argv[1], "template", "--chat-template-file", sys.argv[2], "-p", "hi"], capture_output=True,
                   text=True, timeout=60)
dt, peak = time.time() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
ok = p.returncode == 1 and "render budget" in p.stderr and p.stderr.count("\n") == 1 and dt < 20 and peak < 1024
if not ok:
    print(f"FAIL: template past the render budget: rc {p.returncode}, {dt:.1f} s, peak {peak:.0f} MB: {p.stderr.strip()}")
sys.exit(0 if ok else 1)
PY
check_error "needs --chat" generate -m "$m" -p hi --chat-template-kwargs '{"enable_thinking":false}'
check_error "wants a JSON object" generate -m "$m" -p hi --chat --chat-template-kwargs '[1]'
check_error "exactly one of --messages FILE or -p TEXT" template -m "$m"
# -cnv: each line of input is a user turn; the second answer is what plain generation gives on the
# two-turn conversation the template renders (history kept, greedy, lossless with the drafter).
printf 'def add(a, b):\nand subtract?\n' | "$bin" decode -m "$m" -cnv -n 12 -sys "You write Python." > "$tmp/cnv.txt" 2> /dev/null \
  || { echo "FAIL: -cnv exit code"; fail=1; }
/usr/bin/python3 - "$bin" "$m" "$tmp" << 'PY' || { echo "FAIL: -cnv turns differ from generate on the rendered history"; fail=1; }
import json, subprocess, sys
bin, m, tmp = sys.argv[1:]
def gen(messages):
    json.dump(messages, open(f"{tmp}/msgs.json", "w"))
    prompt = subprocess.run([bin, "template", "-m", m, "--messages", f"{tmp}/msgs.json"], capture_output=True, text=True, check=True).stdout
    out = subprocess.run([bin, "generate", "-m", m, "-p", prompt, "-n", "12", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["text"]
msgs = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "def add(a, b):"}]
a1 = gen(msgs)
msgs += [{"role": "assistant", "content": a1}, {"role": "user", "content": "and subtract?"}]
a2 = gen(msgs)
got = open(f"{tmp}/cnv.txt").read()
sys.exit(0 if got == a1 + "\n" + a2 + "\n" else 1)
PY
check_error "does not go with -cnv" generate -m "$m" -cnv --json
# inspect takes -m like the other commands, and reads drafter folders.
for d in "$m-eagle3" "$m-mtp"; do
  "$bin" inspect -m "$d" --json 2> /dev/null | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if j["architecture"] in ("LlamaForCausalLMEagle3", "Qwen3MTPSidecar") and j["tensors"] and j["total_bytes"] > 0 else 1)' \
    || { echo "FAIL: inspect -m $d"; fail=1; }
done
"$bin" inspect -m "$m" | grep -q "chat template: 196 bytes" || { echo "FAIL: inspect shows the chat template"; fail=1; }
check_error "one model path" inspect -m "$m" "$m"
# --json has one schema (requests, total, config) for one prompt and for a prompts file; -o writes it to a
# file for every command with --json; -o without --json is an error.
"$bin" decode -m "$m" -p "def f(x):" -n 8 --draft suffix --json -o "$tmp/one.json" > "$tmp/stdout" 2> /dev/null
printf '{"prompt": "def f(x):"}\n{"prompt": "import os"}\n' > "$tmp/two.jsonl"
"$bin" decode -m "$m" --prompts "$tmp/two.jsonl" -n 8 --draft suffix --json -o "$tmp/two.json" 2> /dev/null
/usr/bin/python3 -c '
import json, os, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
ok = all(set(["requests", "total", "config"]) <= set(j) for j in (one, two))
ok = ok and len(one["requests"]) == 1 and len(two["requests"]) == 2 and one["config"]["drafter"] == "suffix"
ok = ok and one["config"]["k"] == "4" and "kernels" in one["config"] and os.path.getsize(sys.argv[3]) == 0
sys.exit(0 if ok else 1)' "$tmp/one.json" "$tmp/two.json" "$tmp/stdout" || { echo "FAIL: --json schema or -o"; fail=1; }
for c in "inspect -m $m" "tokenize -m $m -p hi" "perplexity -m $m -f $m/MODEL_CARD.md --ctx 64"; do
  rm -f "$tmp/o.json"
  $bin $c --json -o "$tmp/o.json" > /dev/null 2>&1 && /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/o.json" \
    || { echo "FAIL: $c --json -o"; fail=1; }
done
check_error "give --json too" generate -m "$m" -p hi -o "$tmp/x.json"
# --compare none: plain decoding right after each request, the speed-up and the output check.
"$bin" decode -m "$m" -p 'abc abc abc abc' -n 24 --draft suffix --compare none --json 2> /dev/null | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["compare_none"]
sys.exit(0 if c["outputs_identical"] and c["speedup"] > 0 and c["plain_decode_tokens_per_s"] > 0 else 1)' \
  || { echo "FAIL: --compare none"; fail=1; }
"$bin" decode -m "$m" -p 'abc abc' -n 8 --draft suffix --compare none 2>&1 > /dev/null | grep -q "speed-up over plain decoding: .*outputs identical" \
  || { echo "FAIL: --compare none text line"; fail=1; }
check_error "--compare takes none" decode -m "$m" -p hi --compare ngram
# Every llama.cpp spelling means what its ternspec name means: the same output both ways.
same() {  # description, then two argument lists separated by ::
  local what=$1; shift
  local a=() b=() into=a
  for x in "$@"; do if [ "$x" = "::" ]; then into=b; elif [ $into = a ]; then a+=("$x"); else b+=("$x"); fi; done
  [ "$("$bin" "${a[@]}" 2> /dev/null)" = "$("$bin" "${b[@]}" 2> /dev/null)" ] || { echo "FAIL: $what"; fail=1; }
}
g=(generate -m "$m" -p 'def f(x):' -n 16 --temp 0.9 --top-p 0.9 --min-p 0.02 --top-k 40)
same "-s is --seed" "${g[@]}" -s 5 :: "${g[@]}" --seed 5
same "-c is --ctx-size" "${g[@]}" -s 1 -c 96 :: "${g[@]}" -s 1 --ctx-size 96
same "-e is --escape" generate -m "$m" -p 'a\nb' -e -n 8 :: generate -m "$m" -p 'a\nb' --escape -n 8
same "-sys is --system-prompt" generate -m "$m" -p hi --chat -sys S -n 8 :: generate -m "$m" -p hi --chat --system-prompt S -n 8
same "-r is --reverse-prompt" generate -m "$m" -p 'def f(x):' -n 24 -r ':' :: generate -m "$m" -p 'def f(x):' -n 24 --reverse-prompt ':'
"$bin" decode -m "$m" -p 'abc abc abc' -n 16 --draft-max 3 --json 2> /dev/null | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["config"]["k"] == "3" else 1)' || { echo "FAIL: --draft-max is -k"; fail=1; }
same "-md is --draft-model" decode -m "$m" -p 'def f(x):' -n 12 --draft eagle -md "$m-eagle3" :: decode -m "$m" -p 'def f(x):' -n 12 --draft eagle --model-draft "$m-eagle3"
[ "$("$bin" "${g[@]}" -s 5 2> /dev/null)" != "$("$bin" "${g[@]}" -s 6 2> /dev/null)" ] || { echo "FAIL: the seed changes nothing"; fail=1; }
# Warnings and errors for what would otherwise be capped or ignored silently.
check_error "mtp_depth 9 is outside 1..3" decode -m "$m" -p hi --draft mtp --draft-model "$m-mtp" --mtp-depth 9
"$bin" decode -m "$m" -p hi -n 2 --draft suffix --draft-model "$m-eagle3" > /dev/null 2> "$tmp/err"
grep -q "takes no weights" "$tmp/err" || { echo "FAIL: a draft model for suffix is not reported"; fail=1; }
# Trees: the summary gives the nodes verified per round.
"$bin" decode -m "$m" -p 'abc abc abc abc' -n 16 --draft suffix --tree 6 2>&1 > /dev/null | grep -q "nodes per round" \
  || { echo "FAIL: tree summary without nodes per round"; fail=1; }
# A JSONL field no request reads is a warning naming it, once.
printf '{"prompt": "hi", "max_tokens": 5}\n{"prompt": "yo", "max_tokens": 5}\n' > "$tmp/unknown.jsonl"
"$bin" decode -m "$m" --prompts "$tmp/unknown.jsonl" -n 2 > /dev/null 2> "$tmp/err"
[ "$(grep -c 'the field "max_tokens" is not understood' "$tmp/err")" = 1 ] || { echo "FAIL: JSONL field warning: $(cat "$tmp/err")"; fail=1; }
check_error "is a folder" generate -m "$m" -p hi --json -o "$tmp"
# bench serve --http: a server child, streaming clients, a row per configuration with tokens and latencies.
"$bin" bench serve --http -m "$m" --prompts "$(dirname "$0")/../bench/workloads/completion.jsonl" -n 8 --reps 1 \
  --clients 1,2 -t 2 --json "$tmp/http.json" > /dev/null 2>&1 || { echo "FAIL: bench serve --http"; fail=1; }
/usr/bin/python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
ok = len(rows) == 4 and all(r["tokens_per_s"] > 0 and r["ttft_ms_p50"] > 0 for r in rows)
ok = ok and [r["speculative"]["draft"] for r in rows] == ["none", "suffix"] * 2
sys.exit(0 if ok else 1)' "$tmp/http.json" || { echo "FAIL: bench serve --http rows"; fail=1; }
check_error "repeat_penalty" generate -m "$m" -p hi --repeat-penalty 0
[ "$("$bin" generate -m "$m" -p "def f(x):" -n 24 --repeat-penalty 1.5 2> /dev/null)" = "$("$bin" decode -m "$m" -p "def f(x):" -n 24 --repeat-penalty 1.5 --draft suffix -k 6 2> /dev/null)" ] || { echo "FAIL: --repeat-penalty: decode differs from generate"; fail=1; }
# A drafter option no drafter reads is a warning naming it, not silence.
"$bin" decode -m "$m" -p hi -n 4 --draft suffix --draft-opt max_spec_factr=2 > /dev/null 2> "$tmp/err"
grep -q "has no option 'max_spec_factr'" "$tmp/err" || { echo "FAIL: --draft-opt typo not reported: $(cat "$tmp/err")"; fail=1; }
check_error "is not a number" decode -m "$m" -p hi --draft suffix --draft-opt min_token_prob=0.2x
# Generation cut by the context says so on stderr.
"$bin" generate -m "$m" -p hello -n 100 -c 20 > /dev/null 2> "$tmp/err"
grep -q "stopped at the end of the context" "$tmp/err" || { echo "FAIL: context stop not reported"; fail=1; }
# --draft-min: drafts shorter than it are not verified (k 4 < 5: nothing drafted reaches the target).
for dm in 0 5; do
  "$bin" decode -m "$m" -p 'abc abc abc abc abc abc' -n 24 --draft suffix -k 4 --draft-min $dm --json 2> /dev/null \
    | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["total"]["drafted"]; sys.exit(0 if (d > 0) == (sys.argv[1] == "0") else 1)' $dm \
    || { echo "FAIL: --draft-min $dm"; fail=1; }
done
# bench serve without -t uses every core (it used to demand --threads).
head -2 "$(dirname "$0")/../bench/workloads/completion.jsonl" > "$tmp/two.jsonl"
"$bin" bench serve -m "$m" --prompts "$tmp/two.jsonl" -n 4 --parallel 2 --reps 1 > /dev/null 2> "$tmp/err" \
  || { echo "FAIL: bench serve without -t: $(cat "$tmp/err")"; fail=1; }
if [ $fail -eq 0 ]; then echo "cli contract: all checks passed"; fi
exit $fail
