"""The hybrid model's conventions checked against llama.cpp: a random hybrid (ternary weights, norms, gates,
decays and conv kernels all away from their defaults) written as an F32 `qwen35` GGUF by
export_gguf_hybrid.py, run teacher-forced by llama.cpp (npm node-llama-cpp's prebuilt build) and by PyTorch
in float32 without activation quantisation; the two next-token distributions must agree at every position.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/check_hybrid_llama.py [--positions 256] [--work DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as base  # noqa: E402
from export_gguf_hybrid import write_gguf  # noqa: E402
from model_hybrid import HybridConfig, Qwen35Ternary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def random_model(seed):
    torch.manual_seed(seed)
    cfg = HybridConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=4, full_attention_interval=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=64, linear_num_key_heads=2,
                       linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=32)
    m = Qwen35Ternary(cfg)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif n.endswith("dt_bias"):
                p.copy_(torch.randn_like(p))
            elif n.endswith("A_log"):
                p.copy_(torch.randn_like(p) * 0.5)
            elif "conv1d" in n:
                p.copy_(torch.randn_like(p) * 0.5)
            elif p.dim() == 2:
                p.copy_(torch.randn_like(p) * (0.5 if n == "embed_tokens" else 0.08))
    m.freeze_ternary()
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, default=256)
    ap.add_argument("--work", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="hybrid-oracle-")
    os.makedirs(work, exist_ok=True)
    base.ACTIVATION_QUANT = False
    m = random_model(args.seed).eval()
    gguf = os.path.join(work, "hybrid-f32.gguf")
    write_gguf(m, gguf, os.path.join(ROOT, "models/tern-pystd-7m/tern-pystd-7m.gguf"), name="hybrid-oracle")
    gen = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, 8192, (args.positions,), generator=gen).tolist()
    ids_path, probs_path = os.path.join(work, "ids.json"), os.path.join(work, "probs.json")
    with open(ids_path, "w") as fh:
        json.dump(ids, fh)
    subprocess.run(["node", os.path.join(ROOT, "tests/llama_ref/llama_probs.mjs"), gguf, ids_path, probs_path], check=True)
    with open(probs_path) as fh:
        ref = torch.tensor(json.load(fh)["probs"], dtype=torch.float64)
    with torch.no_grad():
        for name, recurrent in (("chunked", False), ("recurrent", True)):
            logits = m(torch.tensor([ids]), recurrent=recurrent)[0].double()
            ours = torch.softmax(logits, -1)[:, :ref.shape[1]]
            diff = (ours - ref).abs().max().item()
            top1 = (ours.argmax(-1) == ref.argmax(-1)).double().mean().item()
            tv = 0.5 * (ours - ref).abs().sum(-1).max().item()
            print(f"{name}: max |p - p_llama| {diff:.2e}, worst total variation {tv:.2e}, top-1 agreement {top1:.4f} "
                  f"over {len(ids)} positions")
            if tv > 1e-3 or top1 < 0.97:
                sys.exit(f"check_hybrid_llama: the {name} forward disagrees with llama.cpp's qwen35")
    print("check_hybrid_llama: ok")


if __name__ == "__main__":
    main()
