#!/usr/bin/env bash
# Every kind of GGUF ternspec writes, loaded by an independent llama.cpp (prebuilt, npm node-llama-cpp
# 3.21.1, which scripts/setup.sh installs into tests/llama_ref), and the shipped model's greedy choices
# compared position by position (teacher-forced top-1) between llama.cpp and ternspec.
#   tests/llama_interop.sh BUILD/ternspec TMPDIR
# Fails, saying so, when the reference is not installed (scripts/setup.sh installs it): never skipped.
set -u
bin=$1
tmp=$2
src=$(cd "$(dirname "$0")/.." && pwd)
ref=$src/tests/llama_ref
mkdir -p "$tmp"
if [ ! -d "$ref/node_modules/node-llama-cpp" ]; then
  echo "FAIL: the llama.cpp reference is not installed (scripts/setup.sh installs it)"; exit 1
fi
fail=0
loads() {  # GGUF: llama.cpp must load it
  if node "$ref/llama_top1.mjs" "$1" > "$tmp/load.out" 2>&1; then echo "ok: llama.cpp loads $(basename "$1")"
  else echo "FAIL: llama.cpp refuses $(basename "$1"): $(tail -n 3 "$tmp/load.out")"; fail=1; fi
}
refused() {  # GGUF in a layout this llama.cpp does not know: refused, as documented in docs/formats.md
  if node "$ref/llama_top1.mjs" "$1" > "$tmp/load.out" 2>&1; then echo "FAIL: llama.cpp was expected to refuse $(basename "$1")"; fail=1
  else echo "ok: llama.cpp refuses $(basename "$1") (a layout mainline llama.cpp does not have)"; fi
}

# synth: the default type, then every type synth can write.
"$bin" synth "$tmp/tiny.gguf" --shape tiny 2> /dev/null && loads "$tmp/tiny.gguf"
for t in q2_0 tq2_0 tq1_0 f16 bf16 f32; do
  "$bin" synth "$tmp/tiny_$t.gguf" --shape tiny --type $t 2> /dev/null && loads "$tmp/tiny_$t.gguf"
done
# Qwen3's real vocabulary size (151,936 embedding rows for a 259-token byte tokenizer: the token list is
# padded as convert_hf_to_gguf.py pads it), at a tiny width so the file stays small.
"$bin" synth "$tmp/tiny_qwen3_vocab.gguf" --shape tiny --vocab 151936 2> /dev/null && loads "$tmp/tiny_qwen3_vocab.gguf"
for t in q2_0_g128 pq2_0; do
  "$bin" synth "$tmp/tiny_$t.gguf" --shape tiny --type $t 2> /dev/null && refused "$tmp/tiny_$t.gguf"
done

# The Qwen3.5 hybrid (qwen35): synth's random files load in llama.cpp, and where llama.cpp's choice is clear
# (its top probability at least e^0.5 times the second) ternspec makes the same one, teacher-forced over 256
# positions. Random models are flat and ternspec's activations are int8, so the unclear positions say
# nothing; tests/test_hybrid.cpp holds the forward to a reference exactly.
for t in f16 tq2_0; do
  "$bin" synth "$tmp/hybrid_$t.gguf" --shape qwen3.5-tiny --type $t 2> /dev/null || { echo "FAIL: synth qwen3.5-tiny $t"; fail=1; continue; }
  loads "$tmp/hybrid_$t.gguf"
  /usr/bin/python3 -c 'import random, sys; random.seed(5); ids = [random.randrange(259) for _ in range(256)]; open(sys.argv[1], "w").write(" ".join(map(str, ids))); open(sys.argv[2], "w").write("[" + ",".join(map(str, ids)) + "]")' "$tmp/hybrid_ids.txt" "$tmp/hybrid_ids.json"
  "$bin" logits -m "$tmp/hybrid_$t.gguf" --ids "$tmp/hybrid_ids.txt" --top 1 > "$tmp/hybrid_top1.txt" || { echo "FAIL: ternspec logits hybrid_$t"; fail=1; continue; }
  node "$ref/llama_probs.mjs" "$tmp/hybrid_$t.gguf" "$tmp/hybrid_ids.json" "$tmp/hybrid_probs.json" 2> "$tmp/llama.err" || { echo "FAIL: llama.cpp on hybrid_$t: $(tail -n 2 "$tmp/llama.err")"; fail=1; continue; }
  /usr/bin/python3 - "$tmp/hybrid_top1.txt" "$tmp/hybrid_probs.json" "hybrid_$t" <<'PY' || fail=1
import json, math, sys
ours = [int(l.split()[2].split(":")[0]) for l in open(sys.argv[1]) if l.strip()]
probs = json.load(open(sys.argv[2]))["probs"]
clear = agree = 0
for mine, row in zip(ours, probs):
    order = sorted(range(len(row)), key=lambda i: -row[i])
    if row[order[1]] <= 0 or math.log(row[order[0]] / row[order[1]]) >= 0.5:
        clear += 1
        agree += mine == order[0]
n = len(probs)
print(f"{sys.argv[3]}: llama.cpp's choice is clear at {clear}/{n} positions; ternspec agrees at {agree} ({100 * agree / max(clear, 1):.1f}%)")
sys.exit(0 if n == 256 and clear >= 40 and agree >= 0.97 * clear else 1)
PY
done

# The shipped hybrid (a trained Qwen3.5 model): its GGUF loads in llama.cpp, and teacher-forced greedy choices
# on held-out code agree there and here at 97% of 512 positions or more.
hybrid_model=$src/models/tern-pystd-hybrid/tern-pystd-hybrid.gguf
if [ -f "$hybrid_model" ]; then
  loads "$hybrid_model"
  /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:4]
open(sys.argv[2], "w").write("\n".join(r["prompt"] for r in rows))' "$src/bench/workloads/completion.jsonl" "$tmp/htext.txt"
  "$bin" tokenize -m "$hybrid_model" -f "$tmp/htext.txt" > "$tmp/hids.txt"
  /usr/bin/python3 -c 'import sys; ids = open(sys.argv[1]).read().split()[:512]; open(sys.argv[1], "w").write(" ".join(ids)); open(sys.argv[2], "w").write("[" + ",".join(ids) + "]")' "$tmp/hids.txt" "$tmp/hids.json"
  if "$bin" logits -m "$hybrid_model" --ids "$tmp/hids.txt" --top 1 > "$tmp/h_ternspec_top1.txt" &&
     node "$ref/llama_top1.mjs" "$hybrid_model" "$tmp/hids.json" > "$tmp/h_llama_top1.json" 2> "$tmp/llama.err"; then
    /usr/bin/python3 - "$tmp/h_ternspec_top1.txt" "$tmp/h_llama_top1.json" <<'PY' || fail=1
import json, sys
ours = [int(l.split()[2].split(":")[0]) for l in open(sys.argv[1]) if l.strip()]
theirs = json.load(open(sys.argv[2]))["top1"]
n = min(len(ours), len(theirs))
same = sum(a == b for a, b in zip(ours[:n], theirs[:n]))
print(f"tern-pystd-hybrid: teacher-forced top-1 agrees at {same}/{n} positions ({100 * same / max(n, 1):.1f}%) with llama.cpp")
sys.exit(0 if n >= 256 and same >= 0.97 * n else 1)
PY
  else
    echo "FAIL: the shipped hybrid in ternspec or llama.cpp: $(tail -n 2 "$tmp/llama.err")"; fail=1
  fi
else
  echo "FAIL: $hybrid_model is missing"; fail=1
fi

# Qwen3.5's own MTP layer stored in the target file after its stack (convert --mtp-in-file), as a Bonsai 2 file
# carries it: llama.cpp loads the file (it skips the layer unless asked for MTP), and ternspec drafts with the
# file's own layer (--draft mtp, no --draft-model) giving the plain greedy text: a random one, and the layer
# trained for the shipped hybrid (docs/mtp.md).
"$bin" synth "$tmp/hybrid_nextn.gguf" --shape qwen3.5-tiny --type tq2_0 --mtp 1 --nextn 2> /dev/null \
  && "$bin" convert "$tmp/hybrid_nextn.gguf" "$tmp/hybrid_with_nextn.gguf" --type tq2_0 --mtp "$tmp/hybrid_nextn.mtp.gguf" \
    --mtp-in-file 2> /dev/null && loads "$tmp/hybrid_with_nextn.gguf" || { echo "FAIL: synth/convert a hybrid with its nextn layer"; fail=1; }
nextn=$src/models/tern-pystd-hybrid-nextn/tern-pystd-hybrid.mtp.gguf
if [ -f "$nextn" ] && "$bin" convert "$hybrid_model" "$tmp/shipped_hybrid_nextn.gguf" --type q2_0 --mtp "$nextn" --mtp-in-file 2> /dev/null; then
  loads "$tmp/shipped_hybrid_nextn.gguf"
  plain=$("$bin" decode -m "$hybrid_model" -p "def fib(n):" -n 48 --temp 0 --draft none 2> /dev/null | md5sum)
  "$bin" decode -m "$tmp/shipped_hybrid_nextn.gguf" -p "def fib(n):" -n 48 --temp 0 --draft mtp -k 3 > "$tmp/nextn.out" 2> "$tmp/nextn.err"
  if [ "$(md5sum < "$tmp/nextn.out")" = "$plain" ] && grep -q "acceptance [1-9]" "$tmp/nextn.err"; then
    echo "ok: the shipped hybrid's nextn layer, stored in its file, drafts and keeps the text: $(grep -o 'tau [0-9.]*' "$tmp/nextn.err")"
  else
    echo "FAIL: the shipped hybrid with its nextn layer: $(tail -n 1 "$tmp/nextn.err")"; fail=1
  fi
else
  echo "FAIL: $nextn is missing or convert --mtp-in-file failed"; fail=1
fi

# Qwen3.5's pre-tokenizer: the shipped vocabulary labelled `qwen35`, tokenized by llama.cpp and by ternspec.
# Texts already in NFC agree id for id; text that is not (a decomposed accent) differs by design (ternspec
# applies tokenizer.json's NFC, llama.cpp none), and there ternspec's ids equal those of the NFC text.
if [ -f "$src/models/tern-pystd-7m/tern-pystd-7m.gguf" ]; then
  /usr/bin/python3 "$ref/gguf_set_string.py" "$src/models/tern-pystd-7m/tern-pystd-7m.gguf" "$tmp/qwen35_vocab.gguf" \
    tokenizer.ggml.pre qwen35 || { echo "FAIL: could not write qwen35_vocab.gguf"; fail=1; }
  node "$ref/llama_tokenize.mjs" "$tmp/qwen35_vocab.gguf" "$src/tests/data/qwen35_texts.json" > "$tmp/qwen35_llama.json" \
    2> "$tmp/llama.err" || { echo "FAIL: llama.cpp tokenize: $(tail -n 2 "$tmp/llama.err")"; fail=1; }
  /usr/bin/python3 - "$bin" "$tmp/qwen35_vocab.gguf" "$src/tests/data/qwen35_texts.json" "$tmp/qwen35_llama.json" <<'PY' || fail=1
import json, subprocess, sys, unicodedata
bin, gguf, texts, ref = sys.argv[1:5]
texts, ref = json.load(open(texts)), json.load(open(ref))
def ours(t):
    return [int(x) for x in subprocess.check_output([bin, "tokenize", "-m", gguf, "-p", t]).split()]
bad = [t for t, r in zip(texts, ref) if ours(t) != r]
decomposed = "cafe\u0301 re\u0301sume\u0301"
nfc_same = ours(decomposed) == ours(unicodedata.normalize("NFC", decomposed))
print(f"qwen35 pre-tokenizer: {len(texts) - len(bad)}/{len(texts)} texts id for id with llama.cpp; "
      f"decomposed accents follow NFC: {nfc_same}")
for t in bad: print("  differs:", repr(t))
sys.exit(0 if not bad and nfc_same else 1)
PY
fi

# EAGLE-3 heads in llama.cpp's eagle3 layout: synth's (int8-stored and ternary) and the shipped head's convert.
# (This llama.cpp's resource estimate does not count d2t and logs "wrong number of tensors" once; the load
# itself succeeds.)
"$bin" synth "$tmp/eagle_target.gguf" --shape tiny --eagle3 --eagle-draft-vocab 64 2> /dev/null \
  && loads "$tmp/eagle_target.eagle3-int8.gguf" && loads "$tmp/eagle_target.eagle3-ternary.gguf"
if [ -d "$src/models/tern-pystd-7m-eagle3" ]; then
  "$bin" convert "$src/models/tern-pystd-7m-eagle3" "$tmp/shipped_eagle.gguf" --type f16 --target "$src/models/tern-pystd-7m" \
    2> /dev/null && loads "$tmp/shipped_eagle.gguf"
fi

# The shipped model: its GGUF as shipped, and convert's output in each type that holds it exactly (its
# group-128 scales do not fit TQ1_0/TQ2_0's 256-blocks: convert refuses those, tested elsewhere).
model=$src/models/tern-pystd-7m
if [ -d "$model" ]; then
  loads "$model/tern-pystd-7m.gguf"
  "$bin" convert "$model" "$tmp/shipped.gguf" 2> /dev/null && loads "$tmp/shipped.gguf"
  for t in f16; do "$bin" convert "$model" "$tmp/shipped_$t.gguf" --type $t 2> /dev/null && loads "$tmp/shipped_$t.gguf"; done
  # convert --mtp: the target file llama.cpp loads, the modules in shipped_mtp.mtp.gguf (docs/mtp.md).
  if [ -d "$src/models/tern-pystd-7m-mtp" ]; then
    "$bin" convert "$model" "$tmp/shipped_mtp.gguf" --mtp "$src/models/tern-pystd-7m-mtp" 2> /dev/null && loads "$tmp/shipped_mtp.gguf"
    [ -f "$tmp/shipped_mtp.mtp.gguf" ] || { echo "FAIL: convert --mtp wrote no shipped_mtp.mtp.gguf"; fail=1; }
  fi
  # Teacher-forced greedy choices on held-out code (four completion prompts, about 500 positions).
  /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:4]
open(sys.argv[2], "w").write("\n".join(r["prompt"] for r in rows))' "$src/bench/workloads/completion.jsonl" "$tmp/text.txt"
  for g in shipped.gguf shipped_f16.gguf; do
    [ -f "$tmp/$g" ] || continue
    "$bin" tokenize -m "$tmp/$g" -f "$tmp/text.txt" > "$tmp/ids.txt"
    /usr/bin/python3 -c 'import sys; ids = open(sys.argv[1]).read().split()[:512]; open(sys.argv[1], "w").write(" ".join(ids)); open(sys.argv[2], "w").write("[" + ",".join(ids) + "]")' "$tmp/ids.txt" "$tmp/ids.json"
    "$bin" logits -m "$tmp/$g" --ids "$tmp/ids.txt" --top 1 > "$tmp/ternspec_top1.txt" || { echo "FAIL: ternspec logits $g"; fail=1; continue; }
    node "$ref/llama_top1.mjs" "$tmp/$g" "$tmp/ids.json" > "$tmp/llama_top1.json" 2> "$tmp/llama.err" || { echo "FAIL: llama.cpp on $g: $(tail -n 2 "$tmp/llama.err")"; fail=1; continue; }
    /usr/bin/python3 - "$tmp/ternspec_top1.txt" "$tmp/llama_top1.json" "$g" <<'PY' || fail=1
import json, sys
ours = [int(l.split()[2].split(":")[0]) for l in open(sys.argv[1]) if l.strip()]
theirs = json.load(open(sys.argv[2]))["top1"]
n = min(len(ours), len(theirs))
same = sum(a == b for a, b in zip(ours[:n], theirs[:n]))
share = same / max(n, 1)
print(f"{sys.argv[3]}: teacher-forced top-1 agrees at {same}/{n} positions ({100 * share:.1f}%) with llama.cpp")
sys.exit(0 if n >= 300 and share >= 0.97 else 1)
PY
  done
fi
[ $fail -eq 0 ] && echo "llama.cpp interop: all checks passed"
exit $fail
