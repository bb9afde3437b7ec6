"""Writes a hybrid model (model_hybrid.py) as an F32 `qwen35` GGUF in llama.cpp's conventions, so that
llama.cpp can serve as the oracle for the conventions themselves (train/check_hybrid_llama.py).

The conventions, from llama.cpp's converter (conversion/qwen.py) and loader (src/models/qwen35.cpp):
value heads reordered from Hugging Face's grouped order (by key head) to tiled order in the V rows of
attn_qkv, the rows of attn_gate, ssm_alpha, ssm_beta, the V channels of ssm_conv1d, ssm_dt, ssm_a and the
columns of ssm_out; ssm_a = -exp(A_log); norms stored as their multiplier (this model keeps them so);
ssm_conv1d as [channels, kernel]. The tokenizer's keys are copied from a shipped Qwen3 GGUF with the same
vocabulary.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_io as g  # noqa: E402


def tiled(t, dim, hk, hv, head_dim):
    """Value heads from grouped ([k0: v0..v(r-1)], [k1: ...]) to tiled order (v0 of every key head, then v1...)."""
    r = hv // hk
    shape = list(t.shape)
    t = t.reshape(shape[:dim] + [hk, r, head_dim] + shape[dim + 1:])
    return t.transpose(dim, dim + 1).reshape(shape)


def tensors_of(model):
    c = model.cfg
    hk, hv, dk, dv = c.linear_num_key_heads, c.linear_num_value_heads, c.linear_key_head_dim, c.linear_value_head_dim
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    out = {"token_embd.weight": sd["embed_tokens"], "output_norm.weight": sd["norm.weight"]}
    for i in range(c.num_hidden_layers):
        p, b = f"layers.{i}.", f"blk.{i}."
        out[b + "attn_norm.weight"] = sd[p + "input_layernorm.weight"]
        out[b + "post_attention_norm.weight"] = sd[p + "post_attention_layernorm.weight"]
        if c.is_linear(i):
            a = p + "linear_attn."
            qkv = sd[a + "in_proj_qkv.weight"]
            kd = hk * dk
            out[b + "attn_qkv.weight"] = torch.cat([qkv[:2 * kd], tiled(qkv[2 * kd:], 0, hk, hv, dv)])
            out[b + "attn_gate.weight"] = tiled(sd[a + "in_proj_z.weight"], 0, hk, hv, dv)
            conv = sd[a + "conv1d.weight"].squeeze(1)
            out[b + "ssm_conv1d.weight"] = torch.cat([conv[:2 * kd], tiled(conv[2 * kd:], 0, hk, hv, dv)])
            out[b + "ssm_dt.bias"] = tiled(sd[a + "dt_bias"], 0, hk, hv, 1)
            out[b + "ssm_a"] = tiled(-torch.exp(sd[a + "A_log"]), 0, hk, hv, 1)
            out[b + "ssm_beta.weight"] = tiled(sd[a + "in_proj_b.weight"], 0, hk, hv, 1)
            out[b + "ssm_alpha.weight"] = tiled(sd[a + "in_proj_a.weight"], 0, hk, hv, 1)
            out[b + "ssm_norm.weight"] = sd[a + "norm.weight"]
            out[b + "ssm_out.weight"] = tiled(sd[a + "out_proj.weight"], 1, hk, hv, dv)
        else:
            a = p + "self_attn."
            for src, dst in (("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v"), ("o_proj", "attn_output"),
                             ("q_norm", "attn_q_norm"), ("k_norm", "attn_k_norm")):
                out[b + dst + ".weight"] = sd[a + src + ".weight"]
        for src, dst in (("gate_proj", "ffn_gate"), ("up_proj", "ffn_up"), ("down_proj", "ffn_down")):
            out[b + dst + ".weight"] = sd[p + "mlp." + src + ".weight"]
    return {k: v.numpy() for k, v in out.items()}


def write_gguf(model, path, tokenizer_gguf, name="tern-pystd-hybrid"):
    c = model.cfg
    A = "qwen35."
    meta = {
        "general.architecture": (g.STR, "qwen35"), "general.name": (g.STR, name),
        A + "context_length": (g.U32, c.max_position_embeddings), A + "embedding_length": (g.U32, c.hidden_size),
        A + "feed_forward_length": (g.U32, c.intermediate_size), A + "block_count": (g.U32, c.num_hidden_layers),
        A + "attention.head_count": (g.U32, c.num_attention_heads),
        A + "attention.head_count_kv": (g.U32, c.num_key_value_heads),
        A + "attention.key_length": (g.U32, c.head_dim), A + "attention.value_length": (g.U32, c.head_dim),
        A + "attention.layer_norm_rms_epsilon": (g.F32, c.rms_norm_eps), A + "rope.freq_base": (g.F32, c.rope_theta),
        A + "rope.dimension_count": (g.U32, int(c.head_dim * c.partial_rotary_factor)),
        A + "rope.dimension_sections": (g.ARR, (g.I32, [11, 11, 10, 0])),
        A + "ssm.conv_kernel": (g.U32, c.linear_conv_kernel_dim), A + "ssm.state_size": (g.U32, c.linear_key_head_dim),
        A + "ssm.group_count": (g.U32, c.linear_num_key_heads), A + "ssm.time_step_rank": (g.U32, c.linear_num_value_heads),
        A + "ssm.inner_size": (g.U32, c.linear_value_head_dim * c.linear_num_value_heads),
        A + "full_attention_interval": (g.U32, c.full_attention_interval),
    }
    for k, v in g.read_metadata(tokenizer_gguf).items():
        if k.startswith("tokenizer."):
            meta[k] = v
    g.write_f32(path, meta, tensors_of(model))


def main():
    """Writes an exported hybrid folder (train_model.py --arch qwen35 --export) as an F32 qwen35 GGUF;
    `ternspec convert` then packs it into a ternary type (ship_hybrid.sh)."""
    import argparse
    from export import load_hybrid_hf
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--tokenizer-gguf", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                              "models/tern-pystd-7m/tern-pystd-7m.gguf"),
                    help="a GGUF whose tokenizer.* keys hold the same vocabulary")
    ap.add_argument("--name", default="tern-pystd-hybrid")
    args = ap.parse_args()
    write_gguf(load_hybrid_hf(args.folder), args.out, args.tokenizer_gguf, args.name)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
