"""Qwen3.5-architecture hybrid model (Gated DeltaNet + gated attention) with ternary quantisation-aware training.

Layer i is Gated DeltaNet (GDN) when (i + 1) % full_attention_interval != 0, gated full attention otherwise,
as in Qwen3.5 and llama.cpp's `qwen35`. Written from the equations (Yang et al., "Gated Delta Networks", 2024;
Qwen3.5's configuration): names follow Hugging Face's Qwen3.5 (`linear_attn.*`, `self_attn.*`) and value heads
are grouped by key head as Hugging Face stores them (value head h reads key head h // (Hv / Hk)); llama.cpp's
tiled order is the converter's business (ternspec convert).

The projections feeding the matmul kernels are ternary with int8 activations, as in model.py. Alpha and beta
(one row per value head), the conv kernel, A_log, dt_bias and the norms stay in floating point.
Norm weights are kept here as the multiplier itself; Hugging Face's Qwen3.5 stores 1 + w ("zero-centred")
for every norm except the GDN output norm, which export_hybrid_hf handles.

Training uses the chunked (WY) form of the gated delta rule; `recurrent_gated_delta_rule` is the per-token
definition it is checked against (tests in train/check_hybrid.py). Exactness at inference is the runtime's job.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import MLP, Qwen3Ternary, RMSNorm, TernaryLinear, rotate_half, ternary_weight


@dataclass
class HybridConfig:
    vocab_size: int = 8195
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    full_attention_interval: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    partial_rotary_factor: float = 1.0
    rope_theta: float = 10000.0
    linear_num_key_heads: int = 2
    linear_num_value_heads: int = 4
    linear_key_head_dim: int = 64
    linear_value_head_dim: int = 64
    linear_conv_kernel_dim: int = 4
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 2048

    def to_dict(self):
        return asdict(self)

    def is_linear(self, i):
        return (i + 1) % self.full_attention_interval != 0


def l2norm(x, eps=1e-6):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


def recurrent_gated_delta_rule(q, k, v, g, beta):
    """Per-token definition. q, k: [B,T,H,dk] (already one per value head), v: [B,T,H,dv], g, beta: [B,T,H].

    S <- S * exp(g); delta = beta * (v - S^T k); S <- S + k delta^T; o = S^T q / sqrt(dk).
    """
    B, T, H, dk = k.shape
    dv = v.shape[-1]
    q = q.float() * dk ** -0.5
    S = torch.zeros(B, H, dk, dv, dtype=torch.float32, device=q.device)
    out = []
    for t in range(T):
        S = S * g[:, t].float().exp()[..., None, None]
        kv = (S * k[:, t, :, :, None]).sum(-2)
        delta = (v[:, t].float() - kv) * beta[:, t, :, None]
        S = S + k[:, t, :, :, None] * delta[:, :, None, :]
        out.append((S * q[:, t, :, :, None]).sum(-2))
    return torch.stack(out, 1)


def chunk_gated_delta_rule(q, k, v, g, beta, chunk=64):
    """The same recurrence over chunks (WY form): within a chunk the rank-1 corrections are solved as one
    lower-triangular system, across chunks the state is carried. Same shapes as recurrent_gated_delta_rule."""
    B, T, H, dk = k.shape
    dv = v.shape[-1]
    q, k, v = (x.float().transpose(1, 2) for x in (q, k, v))  # [B,H,T,d]
    g, beta = (x.float().transpose(1, 2) for x in (g, beta))  # [B,H,T]
    pad = (chunk - T % chunk) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        g, beta = (F.pad(x, (0, pad)) for x in (g, beta))
    n = (T + pad) // chunk
    q = q * dk ** -0.5
    kb = (k * beta[..., None]).reshape(B, H, n, chunk, dk)
    vb = (v * beta[..., None]).reshape(B, H, n, chunk, dv)
    q, k = q.reshape(B, H, n, chunk, dk), k.reshape(B, H, n, chunk, dk)
    gc = g.reshape(B, H, n, chunk).cumsum(-1)
    lower = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    strict = lower.clone().fill_diagonal_(False)
    decay = (gc[..., :, None] - gc[..., None, :]).masked_fill(~lower, float("-inf")).exp()
    # (I + L) X = I with L the strictly lower part of (beta k k^T) weighted by the decay between positions.
    L = ((kb @ k.transpose(-1, -2)) * decay).masked_fill(~strict, 0)
    eye = torch.eye(chunk, device=q.device).expand_as(L)
    Tinv = torch.linalg.solve_triangular(eye + L, eye, upper=False, unitriangular=True)
    u = Tinv @ vb  # pseudo-values
    w = Tinv @ (kb * gc.exp()[..., None])
    S = torch.zeros(B, H, dk, dv, dtype=torch.float32, device=q.device)
    outs = []
    for i in range(n):
        qi, ki = q[:, :, i], k[:, :, i]
        a = ((qi @ ki.transpose(-1, -2)) * decay[:, :, i]).masked_fill(~lower, 0)
        vnew = u[:, :, i] - w[:, :, i] @ S
        outs.append((qi * gc[:, :, i, :, None].exp()) @ S + a @ vnew)
        last = gc[:, :, i, -1]
        S = S * last.exp()[..., None, None] + (ki * (last[..., None] - gc[:, :, i]).exp()[..., None]).transpose(-1, -2) @ vnew
    o = torch.stack(outs, 2).reshape(B, H, n * chunk, dv)[:, :, :T]
    return o.transpose(1, 2)


class GatedDeltaNet(nn.Module):
    def __init__(self, cfg: HybridConfig):
        super().__init__()
        self.cfg = cfg
        H = cfg.hidden_size
        self.hk, self.hv = cfg.linear_num_key_heads, cfg.linear_num_value_heads
        self.dk, self.dv = cfg.linear_key_head_dim, cfg.linear_value_head_dim
        self.key_dim, self.value_dim = self.hk * self.dk, self.hv * self.dv
        conv_dim = 2 * self.key_dim + self.value_dim
        self.in_proj_qkv = TernaryLinear(H, conv_dim)
        self.in_proj_z = TernaryLinear(H, self.value_dim)
        self.in_proj_b = nn.Linear(H, self.hv, bias=False)
        self.in_proj_a = nn.Linear(H, self.hv, bias=False)
        K = cfg.linear_conv_kernel_dim
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, K, groups=conv_dim, bias=False, padding=K - 1)
        self.dt_bias = nn.Parameter(torch.ones(self.hv))
        self.A_log = nn.Parameter(torch.log(torch.empty(self.hv).uniform_(1, 16)))
        self.norm = RMSNorm(self.dv, cfg.rms_norm_eps)
        self.out_proj = TernaryLinear(self.value_dim, H)

    def forward(self, x, recurrent=False):
        B, T, _ = x.shape
        qkv = self.conv1d(self.in_proj_qkv(x).transpose(1, 2))[..., :T]
        qkv = F.silu(qkv).transpose(1, 2)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.value_dim], -1)
        rep = self.hv // self.hk
        q = l2norm(q.reshape(B, T, self.hk, self.dk)).repeat_interleave(rep, dim=2)
        k = l2norm(k.reshape(B, T, self.hk, self.dk)).repeat_interleave(rep, dim=2)
        v = v.reshape(B, T, self.hv, self.dv)
        beta = torch.sigmoid(self.in_proj_b(x).float())
        g = -self.A_log.float().exp() * F.softplus(self.in_proj_a(x).float() + self.dt_bias)
        rule = recurrent_gated_delta_rule if recurrent else chunk_gated_delta_rule
        o = rule(q, k, v, g, beta)
        z = self.in_proj_z(x).reshape(B, T, self.hv, self.dv)
        o = self.norm(o.to(x.dtype)) * F.silu(z)
        return self.out_proj(o.reshape(B, T, self.value_dim))


def rope_tables(cfg: HybridConfig, n: int, device):
    rot = int(cfg.head_dim * cfg.partial_rotary_factor)
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, rot, 2, device=device).float() / rot))
    ang = torch.outer(torch.arange(n, device=device).float(), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


class GatedAttention(nn.Module):
    """Full attention whose q_proj emits [query | gate] per head; the output is multiplied by sigmoid(gate)."""

    def __init__(self, cfg: HybridConfig):
        super().__init__()
        self.cfg = cfg
        H, D = cfg.hidden_size, cfg.head_dim
        self.q_proj = TernaryLinear(H, cfg.num_attention_heads * D * 2)
        self.k_proj = TernaryLinear(H, cfg.num_key_value_heads * D)
        self.v_proj = TernaryLinear(H, cfg.num_key_value_heads * D)
        self.o_proj = TernaryLinear(cfg.num_attention_heads * D, H)
        self.q_norm = RMSNorm(D, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(D, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        c = self.cfg
        D = c.head_dim
        q, gate = self.q_proj(x).view(B, T, c.num_attention_heads, 2 * D).chunk(2, dim=-1)
        q = self.q_norm(q).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, c.num_key_value_heads, D)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, D).transpose(1, 2)
        rot = cos.shape[-1]
        q = torch.cat([q[..., :rot] * cos + rotate_half(q[..., :rot]) * sin, q[..., rot:]], -1)
        k = torch.cat([k[..., :rot] * cos + rotate_half(k[..., :rot]) * sin, k[..., rot:]], -1)
        rep = c.num_attention_heads // c.num_key_value_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        o = att.masked_fill(causal, float("-inf")).softmax(-1) @ v
        o = o.transpose(1, 2).reshape(B, T, -1) * torch.sigmoid(gate.reshape(B, T, -1))
        return self.o_proj(o)


class HybridBlock(nn.Module):
    def __init__(self, cfg: HybridConfig, linear: bool):
        super().__init__()
        self.linear = linear
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if linear:
            self.linear_attn = GatedDeltaNet(cfg)
        else:
            self.self_attn = GatedAttention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, recurrent=False):
        h = self.input_layernorm(x)
        x = x + (self.linear_attn(h, recurrent) if self.linear else self.self_attn(h, cos, sin))
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen35Ternary(Qwen3Ternary):
    """Qwen3Ternary's embedding, forward (tied head, int8 activations) and export, with hybrid layers."""

    def __init__(self, cfg: HybridConfig):
        nn.Module.__init__(self)
        self.cfg = cfg
        self.embed_tokens = nn.Parameter(torch.randn(cfg.vocab_size, cfg.hidden_size) * 0.02)
        self.layers = nn.ModuleList(HybridBlock(cfg, cfg.is_linear(i)) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.frozen = False
        for n, p in self.named_parameters():
            if isinstance(self.get_submodule(n.rsplit(".", 1)[0]) if "." in n else None, TernaryLinear):
                out_proj = any(s in n for s in ("o_proj", "down_proj", "out_proj"))
                nn.init.normal_(p, std=0.02 / (math.sqrt(2 * cfg.num_hidden_layers) if out_proj else 1))

    def rope(self, n, device):
        return rope_tables(self.cfg, n, device)

    @torch.no_grad()
    def freeze_ternary(self):
        """Every ternary weight to its exact ternary x fp16-scale value, every other weight to fp16 (the export)."""
        self.embed_tokens.copy_(ternary_weight(self.embed_tokens.float(), torch.float16))
        for m in self.modules():
            if isinstance(m, TernaryLinear):
                m.weight.copy_(ternary_weight(m.weight.float(), torch.float16))
                m.frozen = True
        for n, p in self.named_parameters():
            if zero_centred(n):  # stored as fp16(w - 1): keep w = 1 + that exactly (float32 holds it)
                p.copy_((p - 1).to(torch.float16).float() + 1)
            elif not n.endswith("proj.weight") or ".in_proj_a." in n or ".in_proj_b." in n:
                if n != "embed_tokens":
                    p.copy_(p.to(torch.float16).float())
        self.frozen = True


def zero_centred(name):
    """Norms that Hugging Face's Qwen3.5 stores as w - 1 (all but the Gated DeltaNet output norm)."""
    return name.endswith("norm.weight") and not name.endswith("linear_attn.norm.weight")
