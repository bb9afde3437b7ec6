#!/usr/bin/env bash
# Installs ternspec into a temporary prefix, builds the C++ and C examples against the installed package
# (find_package(ternspec CONFIG), and the C one with pkg-config alone), and runs them on a small synthetic
# model.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix" > /dev/null
cmake -S examples -B "$prefix/build-examples" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$prefix/build-examples" -j"$(nproc)" > /dev/null
"$prefix/bin/ternspec" synth "$prefix/tiny.gguf" --shape tiny 2> /dev/null
export LD_LIBRARY_PATH="$prefix/lib:${LD_LIBRARY_PATH:-}"
"$prefix/build-examples/decode_cpp" "$prefix/tiny.gguf" "hello hello hello" suffix
"$prefix/build-examples/decode_cpp_static" "$prefix/tiny.gguf" "hello hello hello" ngram
"$prefix/build-examples/decode_c" "$prefix/tiny.gguf" "hello hello hello" ngram
# Five concurrent requests through the engine in two slots, each with its own options.
"$prefix/build-examples/serve_requests" "$prefix/tiny.gguf" "hello hello hello" "abc abc abc" "one two one two" \
  "x y z x y z" "a b a b a b" > "$prefix/served"
[ "$(grep -c '^=== request' "$prefix/served")" = 5 ] || { cat "$prefix/served"; echo "install test: serve_requests"; exit 1; }
# pkg-config: the C example compiled with nothing but the installed package's ternspec.pc.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Werror examples/decode.c $(pkg-config --cflags --libs ternspec) -o "$prefix/decode_c_pc"
"$prefix/decode_c_pc" "$prefix/tiny.gguf" "hello hello hello" suffix
[ "$(pkg-config --modversion ternspec)" = "$("$prefix/bin/ternspec" --version | head -1 | grep -o '[0-9][0-9.]*' | head -1)" ] \
  || { echo "install test: ternspec.pc's version differs from the tool's"; exit 1; }
if "$prefix/build-examples/decode_c" "$prefix/missing.gguf" "x" 2> "$prefix/err"; then
  echo "install test: a missing model must fail"; exit 1
fi
grep -q "no such file" "$prefix/err"
echo "install test: examples built and ran against the installed package"
