"""Writes a trained model as a Hugging Face folder in the '-unpacked' ternary layout."""
import json
import os
import shutil
import struct

import torch

CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                 "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> torch tensor (F16/F32/BF16, or I64/BOOL for index tensors such as EAGLE-3's d2t/t2d)."""
    dtypes = {torch.float16: "F16", torch.float32: "F32", torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(hjson)))
        fh.write(hjson)
        for b in blobs:
            fh.write(b)


def hf_state(model):
    out = {"model.embed_tokens.weight": model.embed_tokens.detach()}
    for n, p in model.named_parameters():
        if n.startswith("layers.") or n.startswith("norm."):
            out["model." + n] = p.detach()
    return {k: v.to(torch.float16) for k, v in out.items()}


def export_hf(model, tokenizer_path, out_dir):
    """model must have been frozen (freeze_ternary) so weights are exact ternary x fp16 scale."""
    os.makedirs(out_dir, exist_ok=True)
    c = model.cfg
    config = {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads, "head_dim": c.head_dim, "rope_theta": c.rope_theta,
        "rms_norm_eps": c.rms_norm_eps, "max_position_embeddings": c.max_position_embeddings,
        "tie_word_embeddings": True, "hidden_act": "silu", "attention_bias": False, "torch_dtype": "float16",
        "bos_token_id": None, "eos_token_id": c.vocab_size - 3,
        "quantization": {"ternary_group_size": 128, "activations": "int8 per token (absmax)"},
    }
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), hf_state(model), {"format": "pt"})
    write_tokenizer_files(tokenizer_path, out_dir, c.max_position_embeddings)


def write_tokenizer_files(tokenizer_path, out_dir, context):
    shutil.copy(tokenizer_path, os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as fh:
        json.dump({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "bos_token": None,
                   "model_max_length": context, "chat_template": CHAT_TEMPLATE}, fh, indent=2)


def export_hybrid_hf(model, tokenizer_path, out_dir):
    """The hybrid (model_hybrid.py) as a Hugging Face Qwen3.5 text folder; model must have been frozen."""
    from model_hybrid import zero_centred
    os.makedirs(out_dir, exist_ok=True)
    c = model.cfg
    config = {
        "architectures": ["Qwen3_5ForCausalLM"], "model_type": "qwen3_5_text",
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads, "head_dim": c.head_dim,
        "layer_types": ["linear_attention" if c.is_linear(i) else "full_attention" for i in range(c.num_hidden_layers)],
        "full_attention_interval": c.full_attention_interval,
        "linear_conv_kernel_dim": c.linear_conv_kernel_dim, "linear_key_head_dim": c.linear_key_head_dim,
        "linear_value_head_dim": c.linear_value_head_dim, "linear_num_key_heads": c.linear_num_key_heads,
        "linear_num_value_heads": c.linear_num_value_heads, "attn_output_gate": True,
        "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_theta,
                            "partial_rotary_factor": c.partial_rotary_factor, "mrope_section": [11, 11, 10],
                            "mrope_interleaved": True},
        "rms_norm_eps": c.rms_norm_eps, "max_position_embeddings": c.max_position_embeddings,
        "tie_word_embeddings": True, "hidden_act": "silu", "torch_dtype": "float16",
        "bos_token_id": None, "eos_token_id": c.vocab_size - 3,
        "quantization": {"ternary_group_size": 128, "activations": "int8 per token (absmax)"},
    }
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)
    out = {"model.embed_tokens.weight": model.embed_tokens.detach()}
    for n, p in model.named_parameters():
        if n.startswith("layers.") or n.startswith("norm."):
            out["model." + n] = (p.detach() - 1) if zero_centred(n) else p.detach()
    out = {k: v.to(torch.float16) for k, v in out.items()}
    write_safetensors(os.path.join(out_dir, "model.safetensors"), out, {"format": "pt"})
    write_tokenizer_files(tokenizer_path, out_dir, c.max_position_embeddings)


def read_safetensors(path):
    """name -> torch tensor, for the F16/BF16/F32 files this repository writes."""
    import numpy as np
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        blob = fh.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        raw = np.frombuffer(blob[a:b], dtype=np.uint8).copy()
        if h["dtype"] == "BF16":
            t = torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16).float()
        elif h["dtype"] in ("I64", "I32", "BOOL"):  # index tensors (EAGLE-3's d2t, t2d) stay integers
            t = torch.from_numpy(raw.view({"I64": np.int64, "I32": np.int32, "BOOL": np.bool_}[h["dtype"]]))
        else:
            t = torch.from_numpy(raw.view({"F16": np.float16, "F32": np.float32}[h["dtype"]])).float()
        out[name] = t.reshape(h["shape"])
    return out


def load_hf(folder):
    """The shipped model back from its HF folder, frozen (weights are already exact ternary x scale)."""
    from model import Config, Qwen3Ternary
    with open(os.path.join(folder, "config.json")) as fh:
        c = json.load(fh)
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "rope_theta", "rms_norm_eps", "max_position_embeddings")
    model = Qwen3Ternary(Config(**{k: c[k] for k in keys}))
    sd = read_safetensors(os.path.join(folder, "model.safetensors"))
    state = {k[len("model."):] if k.startswith("model.") else k: v for k, v in sd.items()}
    state["embed_tokens"] = state.pop("embed_tokens.weight")
    model.load_state_dict(state)
    # Marked frozen, not re-quantised: the folder's values are already trit x scale, and absmean-quantising
    # them again would shrink each group by its share of non-zero trits (about 0.67), a different model from
    # the one ternspec runs (max difference 0.044 on weights of 0.2 in the shipped model's q_proj).
    from model import TernaryLinear
    for m in model.modules():
        if isinstance(m, TernaryLinear):
            m.frozen = True
    model.frozen = True
    return model


def load_target_hf(folder):
    """A shipped target folder as a frozen model: Qwen3Ternary, or Qwen35Ternary where config.json names
    Qwen3.5's text model."""
    with open(os.path.join(folder, "config.json")) as fh:
        hybrid = json.load(fh).get("model_type") == "qwen3_5_text"
    return load_hybrid_hf(folder) if hybrid else load_hf(folder)


def load_hybrid_hf(folder):
    """A hybrid folder written by export_hybrid_hf back as a frozen Qwen35Ternary (exact ternary x scale)."""
    from model import TernaryLinear
    from model_hybrid import HybridConfig, Qwen35Ternary, zero_centred
    with open(os.path.join(folder, "config.json")) as fh:
        c = json.load(fh)
    keys = [k for k in HybridConfig.__dataclass_fields__ if k not in ("rope_theta", "partial_rotary_factor")]
    cfg = HybridConfig(**{k: c[k] for k in keys}, rope_theta=c["rope_parameters"]["rope_theta"],
                       partial_rotary_factor=c["rope_parameters"]["partial_rotary_factor"])
    model = Qwen35Ternary(cfg)
    sd = read_safetensors(os.path.join(folder, "model.safetensors"))
    state = {}
    for k, v in sd.items():
        name = k[len("model."):] if k.startswith("model.") else k
        state[name] = v + 1 if zero_centred(name) else v
    state["embed_tokens"] = state.pop("embed_tokens.weight")
    model.load_state_dict(state)
    for m in model.modules():
        if isinstance(m, TernaryLinear):
            m.frozen = True
    model.frozen = True
    return model
