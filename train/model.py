"""Qwen3-architecture model with ternary quantisation-aware training (BitNet b1.58 style).

Every linear weight, the tied embedding included, is quantised in the forward pass to
{-1, 0, +1} x absmean scale per group of 128 input weights, with a straight-through estimator;
activations entering a ternary matmul are quantised to int8 per token (absmax), as ternspec's
kernels do at inference, so that the exported model computes what it was trained to compute.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUP = 128


@dataclass
class Config:
    vocab_size: int = 8195
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 2048

    def to_dict(self):
        return asdict(self)


def ternary_weight(w: torch.Tensor, scale_dtype=None) -> torch.Tensor:
    """w quantised per group of GROUP along the input dimension: q * absmean, q in {-1,0,1}."""
    out_f, in_f = w.shape
    g = w.reshape(out_f, in_f // GROUP, GROUP)
    scale = g.abs().mean(dim=-1, keepdim=True).clamp(min=1e-8)
    if scale_dtype is not None:
        scale = scale.to(scale_dtype).to(w.dtype)
    q = (g / scale).round().clamp(-1, 1)
    return (q * scale).reshape(out_f, in_f)


def latent_from_ternary(w: torch.Tensor) -> torch.Tensor:
    """Latent weights that quantise back to exactly the shipped ternary x scale values of w.

    A shipped group holds t * s (t in {-1,0,1}); its absmean is s * mean|t|, so re-quantising t * s as it is
    would shrink the group by mean|t|. Dividing by mean|t| gives a latent group whose absmean is s and whose
    rounded ratios are t again, so a continued run's first forward is the shipped forward.
    """
    g = w.reshape(w.shape[0], -1, GROUP)
    frac = (g != 0).float().mean(-1, keepdim=True).clamp(min=1e-8)
    return (g / frac).reshape(w.shape)


def ste(x: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    return x + (xq - x).detach()


# Off only to compare a model with a float reference (llama.cpp on an F32 file): train/check_hybrid_llama.py.
ACTIVATION_QUANT = True


def int8_activations(x: torch.Tensor) -> torch.Tensor:
    """Per-token absmax int8 quantisation, as the runtime's kernels apply it."""
    if not ACTIVATION_QUANT:
        return x
    s = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-8) / 127.0
    return (x / s).round().clamp(-127, 127) * s


class TernaryLinear(nn.Linear):
    def __init__(self, in_f, out_f):
        super().__init__(in_f, out_f, bias=False)
        self.frozen = False  # after export, weight already holds exact ternary x scale values

    def forward(self, x):
        w = self.weight if self.frozen else ste(self.weight, ternary_weight(self.weight))
        return F.linear(ste(x, int8_activations(x)), w)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rope_tables(cfg: Config, n: int, device):
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, device=device).float() / cfg.head_dim))
    ang = torch.outer(torch.arange(n, device=device).float(), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        H, D = cfg.hidden_size, cfg.head_dim
        self.q_proj = TernaryLinear(H, cfg.num_attention_heads * D)
        self.k_proj = TernaryLinear(H, cfg.num_key_value_heads * D)
        self.v_proj = TernaryLinear(H, cfg.num_key_value_heads * D)
        self.o_proj = TernaryLinear(cfg.num_attention_heads * D, H)
        self.q_norm = RMSNorm(D, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(D, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        c = self.cfg
        q = self.q_norm(self.q_proj(x).view(B, T, c.num_attention_heads, c.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, c.num_key_value_heads, c.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = c.num_attention_heads // c.num_key_value_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(c.head_dim)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        o = att.masked_fill(causal, float("-inf")).softmax(-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.gate_proj = TernaryLinear(cfg.hidden_size, cfg.intermediate_size)
        self.up_proj = TernaryLinear(cfg.hidden_size, cfg.intermediate_size)
        self.down_proj = TernaryLinear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, **_):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


@torch.no_grad()
def freeze_to_ternary(root: nn.Module):
    """Every TernaryLinear below `root` to its exact ternary x fp16-scale value and every RMSNorm rounded to
    fp16: what an export holds, so the exported module computes what the runtime will."""
    for m in root.modules():
        if isinstance(m, TernaryLinear):
            m.weight.copy_(ternary_weight(m.weight.float(), torch.float16))
            m.frozen = True
        if isinstance(m, RMSNorm):
            m.weight.copy_(m.weight.to(torch.float16).float())


class Qwen3Ternary(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Parameter(torch.randn(cfg.vocab_size, cfg.hidden_size) * 0.02)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.frozen = False
        for n, p in self.named_parameters():
            if n.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / (math.sqrt(2 * cfg.num_hidden_layers) if "o_proj" in n or "down_proj" in n else 1))

    def embedding(self):
        return self.embed_tokens if self.frozen else ste(self.embed_tokens, ternary_weight(self.embed_tokens))

    def rope(self, n, device):
        return rope_tables(self.cfg, n, device)

    def forward(self, idx, return_hidden=False, **layer_options):
        """layer_options reach every layer (the hybrid's `recurrent`)."""
        T = idx.shape[1]
        emb = self.embedding()
        x = emb[idx]
        cos, sin = self.rope(T, idx.device)
        hidden = []
        for blk in self.layers:
            hidden.append(x)
            x = blk(x, cos, sin, **layer_options)
        hidden.append(x)
        h = self.norm(x)
        logits = F.linear(ste(h, int8_activations(h)), emb)
        return (logits, hidden) if return_hidden else logits

    @torch.no_grad()
    def freeze_ternary(self):
        """Replace every weight by its exact ternary x fp16-scale value (the exported model)."""
        self.embed_tokens.copy_(ternary_weight(self.embed_tokens.float(), torch.float16))
        freeze_to_ternary(self)
        self.frozen = True
