#!/usr/bin/env bash
# libFuzzer targets for the GGUF, safetensors and tokenizer.json parsers, for tokenizing with a GGUF
# vocabulary, for chat templates (parse and render) and for the server's request bodies, built with clang into
# build-fuzz/.
#   scripts/fuzz.sh --smoke        each target for 60 s (CI)
#   scripts/fuzz.sh --long         each target for 10 minutes (nightly)
#   scripts/fuzz.sh --seconds N    each target for N s
# Seeds: the bad-input catalogue the tests write, plus small valid files.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
case "${1:-}" in
  --smoke) seconds=60 ;;
  --long) seconds=600 ;;
  --seconds) seconds=$2 ;;
  "") ;;
  *) echo "usage: scripts/fuzz.sh [--smoke | --long | --seconds N]"; exit 2 ;;
esac
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERNSPEC_FUZZ=ON \
  -DTERNSPEC_BUILD_TESTS=OFF -DTERNSPEC_BUILD_BENCH=OFF -DTERNSPEC_AVX2=OFF > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_gguf fuzz_safetensors fuzz_tokenizer_json fuzz_gguf_vocab fuzz_chat_template \
  fuzz_request_json fuzz_http_request
for t in gguf safetensors tokenizer_json gguf_vocab chat_template request_json http_request; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  # Seeds: the catalogue of bad files (if the tests ran) and a valid tiny model.
  find build/tests/tmp -path '*bad_inputs*' -type f 2> /dev/null | while read -r f; do cp "$f" "$corpus/"; done || true
  [ -x build/ternspec ] && [ "$t" = gguf ] && build/ternspec synth "$corpus/tiny.gguf" --shape tiny 2> /dev/null || true
  [ "$t" = tokenizer_json ] && cp tests/data/*.json "$corpus/" 2> /dev/null || true
  # Chat templates: the shipped model's and the published ones the chat_templates test extracts.
  [ "$t" = chat_template ] && /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chat_template"], end="")' \
    models/tern-pystd-7m/tokenizer_config.json > "$corpus/shipped.jinja" 2> /dev/null || true
  [ "$t" = chat_template ] && cp build/tests/tmp/chat_templates/templates/*.jinja "$corpus/" 2> /dev/null || true
  [ "$t" = gguf_vocab ] && printf '\x03<|im_start|>\n\x04<tool>\n\x03\n\x00x = "<|im_start|>\0<tool>"' > "$corpus/seed"
  if [ "$t" = request_json ]; then  # endpoint byte, then a body: valid requests and near misses
    printf '\x00{"prompt": "def f():", "max_tokens": 4, "stop": ["\\n"]}' > "$corpus/completion"
    printf '\x01{"messages": [{"role": "user", "content": "hi<|im_end|>"}], "tools": [{"type": "function"}]}' > "$corpus/chat"
    printf '\x03{"messages": [{"role": "system", "content": [{"type": "text", "text": "x"}]}], "speculative": {"k": 2}}' > "$corpus/chat2"
  fi
  if [ "$t" = http_request ]; then  # pipelined, chunked, 100-continue, oversized
    printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo?a=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc' > "$corpus/pipelined"
    printf 'POST /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > "$corpus/chunked"
    printf 'POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi' > "$corpus/continue"
    printf 'GET /health HTTP/1.0\r\n\r\n' > "$corpus/http10"
  fi
  echo "fuzz: $t for ${seconds}s"
  # -timeout: an input that takes 10 s (a hang, a quadratic path) is a finding, like a crash.
  ASAN_OPTIONS=detect_leaks=1 build-fuzz/tests/fuzz/fuzz_$t "$corpus" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 2>&1 | tail -n 3
done
echo "fuzz: no crashes"
