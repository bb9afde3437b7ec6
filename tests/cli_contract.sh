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
  "$bin" "$@" > /dev/null 2> "$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$tmp/err"; then
    echo "FAIL: ternspec $* -> rc $rc, $lines lines: $(cat "$tmp/err")"; fail=1
  fi
}
for c in inspect tokenize detokenize generate decode logits perplexity synth convert; do check_help "$c"; done
check_help bench forward
check_help bench spec
check_help bench serve
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
check_error "needs --draft-model" decode -m "$tmp/tiny.gguf" -p hi --draft mtp
check_error "no MTP layers" decode -m "$tmp/tiny.gguf" -p hi --draft mtp --draft-model "$tmp/tiny.gguf"
echo '{"prompt": "hi"}' > "$tmp/p.jsonl"
check_error "--parallel must be between" decode -m "$tmp/tiny.gguf" --prompts "$tmp/p.jsonl" --parallel 0
check_error "not eagle3" decode -m "$tmp/tiny.gguf" -p hi --draft eagle --draft-model "$tmp/tiny.gguf"
printf 'caf\xe9 ok\n' > "$tmp/latin1.txt"
"$bin" tokenize -m "$tmp/tiny.gguf" -f "$tmp/latin1.txt" > /dev/null 2>&1 || { echo "FAIL: invalid UTF-8 file must be accepted with replacement"; fail=1; }
n=$("$bin" generate -m "$tmp/tiny.gguf" -p "hello" -n 5 --ignore-eos --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["ids"]))')
[ "$n" = 5 ] || { echo "FAIL: generate --json ids ($n)"; fail=1; }
if [ $fail -eq 0 ]; then echo "cli contract: all checks passed"; fi
exit $fail
