"""Checks the hybrid model's chunked gated delta rule against its per-token definition, and the whole model's
chunked and recurrent forwards against each other (run before training: a wrong chunked form trains fine).

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/check_hybrid.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_hybrid import HybridConfig, Qwen35Ternary, chunk_gated_delta_rule, recurrent_gated_delta_rule  # noqa: E402


def main():
    torch.manual_seed(0)
    worst = 0.0
    for T, chunk in ((1, 64), (7, 4), (64, 16), (100, 64)):
        B, H, dk, dv = 2, 3, 8, 5
        q, k = (torch.nn.functional.normalize(torch.randn(B, T, H, dk, dtype=torch.float64), dim=-1) for _ in range(2))
        v = torch.randn(B, T, H, dv, dtype=torch.float64)
        g = -torch.rand(B, T, H, dtype=torch.float64) * 2
        beta = torch.rand(B, T, H, dtype=torch.float64)
        a = recurrent_gated_delta_rule(q.float(), k.float(), v.float(), g.float(), beta.float())
        b = chunk_gated_delta_rule(q.float(), k.float(), v.float(), g.float(), beta.float(), chunk=chunk)
        err = (a - b).abs().max().item()
        worst = max(worst, err)
        print(f"T={T} chunk={chunk}: max |recurrent - chunked| = {err:.2e}")
    model = Qwen35Ternary(HybridConfig(vocab_size=300, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
                                       linear_key_head_dim=32, linear_value_head_dim=32, head_dim=32))
    x = torch.randint(0, 300, (2, 40))
    with torch.no_grad():
        d = (model(x) - model(x, recurrent=True)).abs().max().item()
    print(f"model logits, chunked vs recurrent: max difference {d:.2e}")
    # The Hugging Face folder round trip is exact: norms stored as w - 1 in fp16 come back as the same w.
    import tempfile
    from export import export_hybrid_hf, load_hybrid_hf
    model.freeze_ternary()
    folder = tempfile.mkdtemp(prefix="hybrid-hf-")
    tok = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models/tern-pystd-7m/tokenizer.json")
    export_hybrid_hf(model, tok, folder)
    with torch.no_grad():
        r = (load_hybrid_hf(folder)(x) - model(x)).abs().max().item()
    print(f"model logits after the Hugging Face folder round trip: max difference {r:.2e}")
    if worst > 1e-4 or d > 1e-3 or r != 0:
        sys.exit("check_hybrid: the chunked form does not match the recurrence")
    print("check_hybrid: ok")


if __name__ == "__main__":
    main()
