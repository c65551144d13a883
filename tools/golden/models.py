"""Independent PyTorch reference for the transformer fixtures of @rlhfjs/core.

Writes packages/core/test/fixtures/models/<case>/{config.json, model.safetensors, expected.json} for the cases
gpt2, gpt2_prefixed, llama, llama_bf16, qwen2, then runs lora_peft.py (the PEFT adapter fixtures built on
them). Run from anywhere:

    /usr/bin/python3 tools/golden/models.py

The math is written here from the published architectures (GPT-2: Radford et al. 2019 with the
Hugging Face Conv1D weight layout; Llama: Touvron et al. 2023 with HF's rotate-half RoPE layout; Qwen2 = Llama
plus q/k/v biases). It does not use `transformers`. Everything is computed in float64 from the stored weights
(float32, or bf16 upcast) and the logits are written rounded to float32 (9 significant digits).

Conventions shared with lora_peft.py (see tools/golden/README.md):
  * inputs: batch 2, length 8; row 0 all real; row 1 LEFT-padded with 3 pad tokens (mask 0).
  * position_ids = cumsum(mask) - 1, then positions with mask == 0 set to 1 (what HF generate does).
  * attention: query i may attend key j iff j <= i and mask[j] == 1. A query row with no allowed key (a pad
    query at the start of a left-padded row) gets uniform attention over all keys: its outputs are defined
    but meaningless, and tests compare only positions with mask == 1.
"""

import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODELS_FIXTURE_ROOT = os.path.join(REPO_ROOT, "packages", "core", "test", "fixtures", "models")

TRANSFORMERS_VERSION = "4.46.3"  # the version whose save_pretrained output the config.json files imitate
VOCAB_SIZE = 96
HIDDEN_SIZE = 32
NUM_LAYERS = 2
NUM_HEADS = 4
MAX_POSITIONS = 64
BATCH = 2
LENGTH = 8
PAD_COUNT = 3  # left pads in row 1
COMPUTE_DTYPE = torch.float64
# Fill value for disallowed attention scores, as HF's eager attention uses: the most negative float32.
MASKED_SCORE = torch.finfo(torch.float32).min


# ----------------------------------------------------------------------------------------------------------
# inputs, positions and masks
# ----------------------------------------------------------------------------------------------------------


def make_inputs(seed: int, pad_token_id: int, low: int, high: int):
    """Returns (input_ids [B, T] int64, attention_mask [B, T] int64); real tokens drawn from [low, high)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(low, high, (BATCH, LENGTH), generator=generator)  # [B, T]
    attention_mask = torch.ones(BATCH, LENGTH, dtype=torch.int64)  # [B, T]
    input_ids[1, :PAD_COUNT] = pad_token_id
    attention_mask[1, :PAD_COUNT] = 0
    return input_ids, attention_mask


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """HF generate's convention: cumsum(mask) - 1, and 1 where mask == 0."""
    position_ids = attention_mask.long().cumsum(-1) - 1  # [B, T]
    return position_ids.masked_fill(attention_mask == 0, 1)


def allowed_attention(attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, 1, T, T] bool: query i may see key j iff j <= i and key j is not padding."""
    length = attention_mask.shape[1]
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool))  # [T, T]
    key_is_real = attention_mask.bool()[:, None, None, :]  # [B, 1, 1, T]
    return causal[None, None, :, :] & key_is_real  # [B, 1, T, T]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """q [B, H, T, hd], k/v [B, H, T, hd] (already repeated for GQA) -> [B, H, T, hd]."""
    head_dim = q.shape[-1]
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)  # [B, H, T, T]
    scores = scores.masked_fill(~allowed, MASKED_SCORE)
    probabilities = torch.softmax(scores, dim=-1)  # [B, H, T, T]
    return probabilities @ v  # [B, H, T, hd]


# ----------------------------------------------------------------------------------------------------------
# LoRA hook shared with lora_peft.py
# ----------------------------------------------------------------------------------------------------------


def lora_delta(x: torch.Tensor, module_path: str, lora: dict | None) -> torch.Tensor | None:
    """PEFT's LoRA forward term: scaling * lora_B(lora_A(x)), A [r, in], B [out, r] (nn.Linear layout)."""
    if lora is None or module_path not in lora:
        return None
    lora_a, lora_b, scaling = lora[module_path]
    return (x @ lora_a.T.to(x.dtype)) @ lora_b.T.to(x.dtype) * scaling  # [..., out]


def linear(x: torch.Tensor, weights: dict, module_path: str, lora: dict | None = None) -> torch.Tensor:
    """nn.Linear: weight [out, in], optional bias [out]."""
    y = x @ weights[module_path + ".weight"].T  # [..., out]
    bias = weights.get(module_path + ".bias")
    if bias is not None:
        y = y + bias
    delta = lora_delta(x, module_path, lora)
    return y if delta is None else y + delta


def conv1d(x: torch.Tensor, weights: dict, module_path: str, lora: dict | None = None) -> torch.Tensor:
    """HF GPT-2 Conv1D: weight stored [in, out] (transposed w.r.t. nn.Linear), y = x @ W + b."""
    y = x @ weights[module_path + ".weight"] + weights[module_path + ".bias"]  # [..., out]
    delta = lora_delta(x, module_path, lora)
    return y if delta is None else y + delta


# ----------------------------------------------------------------------------------------------------------
# GPT-2
# ----------------------------------------------------------------------------------------------------------


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's 'gelu_new': the tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(weights: dict, config: dict, input_ids, attention_mask, position_ids, lora=None):
    """weights keyed by module path inside GPT2LMHeadModel ('transformer.h.0.attn.c_attn.weight', ...)."""
    hidden_size = config["n_embd"]
    num_heads = config["n_head"]
    head_dim = hidden_size // num_heads
    eps = config["layer_norm_epsilon"]
    batch, length = input_ids.shape
    allowed = allowed_attention(attention_mask)
    x = weights["transformer.wte.weight"][input_ids] + weights["transformer.wpe.weight"][position_ids]  # [B, T, d]
    for layer in range(config["n_layer"]):
        prefix = f"transformer.h.{layer}"
        h = F.layer_norm(x, (hidden_size,), weights[prefix + ".ln_1.weight"], weights[prefix + ".ln_1.bias"], eps)
        qkv = conv1d(h, weights, prefix + ".attn.c_attn", lora)  # [B, T, 3d]
        q, k, v = qkv.split(hidden_size, dim=-1)  # each [B, T, d]
        q, k, v = (t.reshape(batch, length, num_heads, head_dim).transpose(1, 2) for t in (q, k, v))  # [B, H, T, hd]
        context = attention(q, k, v, allowed).transpose(1, 2).reshape(batch, length, hidden_size)  # [B, T, d]
        x = x + conv1d(context, weights, prefix + ".attn.c_proj", lora)
        h = F.layer_norm(x, (hidden_size,), weights[prefix + ".ln_2.weight"], weights[prefix + ".ln_2.bias"], eps)
        h = gelu_new(conv1d(h, weights, prefix + ".mlp.c_fc", lora))  # [B, T, 4d]
        x = x + conv1d(h, weights, prefix + ".mlp.c_proj", lora)
    x = F.layer_norm(x, (hidden_size,), weights["transformer.ln_f.weight"], weights["transformer.ln_f.bias"], eps)
    head = weights.get("lm_head.weight", weights["transformer.wte.weight"])  # tied: lm_head = wte
    return x @ head.T  # [B, T, V]


def gpt2_config(seed_variant: str) -> dict:
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 95,
        "embd_pdrop": 0.1,
        "eos_token_id": 95,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": HIDDEN_SIZE,
        "n_head": NUM_HEADS,
        "n_inner": None,
        "n_layer": NUM_LAYERS,
        "n_positions": MAX_POSITIONS,
        "pad_token_id": 95,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }
    if seed_variant == "hub":
        # The hub's original `gpt2` config.json also carries n_ctx (= n_positions); current GPT2Config ignores it.
        config["n_ctx"] = MAX_POSITIONS
        config = dict(sorted(config.items()))
    return config


def gpt2_random_weights(seed: int) -> dict:
    """Module-path-keyed float32 weights for GPT2LMHeadModel (tied head: no lm_head entry)."""
    generator = torch.Generator().manual_seed(seed)
    d = HIDDEN_SIZE

    def matrix(*shape):
        return torch.randn(*shape, generator=generator) * 0.2

    def norm_weight():
        return 1.0 + torch.randn(d, generator=generator) * 0.1

    def bias(n):
        return torch.randn(n, generator=generator) * 0.1

    weights = {
        "transformer.wte.weight": matrix(VOCAB_SIZE, d),
        "transformer.wpe.weight": matrix(MAX_POSITIONS, d),
    }
    for layer in range(NUM_LAYERS):
        prefix = f"transformer.h.{layer}"
        weights[prefix + ".ln_1.weight"] = norm_weight()
        weights[prefix + ".ln_1.bias"] = bias(d)
        weights[prefix + ".attn.c_attn.weight"] = matrix(d, 3 * d)  # Conv1D [in, out]
        weights[prefix + ".attn.c_attn.bias"] = bias(3 * d)
        weights[prefix + ".attn.c_proj.weight"] = matrix(d, d)
        weights[prefix + ".attn.c_proj.bias"] = bias(d)
        weights[prefix + ".ln_2.weight"] = norm_weight()
        weights[prefix + ".ln_2.bias"] = bias(d)
        weights[prefix + ".mlp.c_fc.weight"] = matrix(d, 4 * d)
        weights[prefix + ".mlp.c_fc.bias"] = bias(4 * d)
        weights[prefix + ".mlp.c_proj.weight"] = matrix(4 * d, d)
        weights[prefix + ".mlp.c_proj.bias"] = bias(d)
    weights["transformer.ln_f.weight"] = norm_weight()
    weights["transformer.ln_f.bias"] = bias(d)
    return weights


def gpt2_weights_from_checkpoint(tensors: dict) -> dict:
    """Checkpoint names -> module paths: adds the missing 'transformer.' prefix, drops attn.bias buffers."""
    weights = {}
    for name, tensor in tensors.items():
        if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
            continue  # causal-mask buffers of old GPT-2 checkpoints, not parameters
        module_path = name if name.startswith("transformer.") or name.startswith("lm_head.") else "transformer." + name
        weights[module_path] = tensor.to(COMPUTE_DTYPE)
    return weights


# ----------------------------------------------------------------------------------------------------------
# Llama / Qwen2
# ----------------------------------------------------------------------------------------------------------


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF layout: the head dim is [first half | second half]; (x1, x2) -> (-x2, x1). Not interleaved pairs."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, config: dict):
    """cos/sin [B, 1, T, hd]. inv_freq_i = theta^(-2i/hd); linear rope_scaling divides positions by factor."""
    theta = config["rope_theta"]
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=COMPUTE_DTYPE) / head_dim))  # [hd/2]
    positions = position_ids.to(COMPUTE_DTYPE)  # [B, T]
    scaling = config.get("rope_scaling")
    if scaling is not None:
        rope_type = scaling.get("rope_type", scaling.get("type"))
        if rope_type != "linear":
            raise ValueError(f"reference supports only linear rope_scaling, got {rope_type}")
        positions = positions / scaling["factor"]
    freqs = positions[:, :, None] * inv_freq[None, None, :]  # [B, T, hd/2]
    angles = torch.cat((freqs, freqs), dim=-1)  # [B, T, hd]
    return angles.cos()[:, None], angles.sin()[:, None]  # [B, 1, T, hd]


def repeat_kv(x: torch.Tensor, repeats: int) -> torch.Tensor:
    """GQA: [B, KV, T, hd] -> [B, KV*repeats, T, hd]; query head h reads kv head h // repeats."""
    return x.repeat_interleave(repeats, dim=1)


def llama_forward(weights: dict, config: dict, input_ids, attention_mask, position_ids, lora=None):
    """weights keyed by module path inside LlamaForCausalLM / Qwen2ForCausalLM ('model.layers.0...')."""
    hidden_size = config["hidden_size"]
    num_heads = config["num_attention_heads"]
    num_kv_heads = config["num_key_value_heads"]
    head_dim = config.get("head_dim") or hidden_size // num_heads
    eps = config["rms_norm_eps"]
    batch, length = input_ids.shape
    allowed = allowed_attention(attention_mask)
    cos, sin = rope_cos_sin(position_ids, head_dim, config)
    x = weights["model.embed_tokens.weight"][input_ids]  # [B, T, d]
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}"
        h = rms_norm(x, weights[prefix + ".input_layernorm.weight"], eps)
        q = linear(h, weights, prefix + ".self_attn.q_proj", lora)  # [B, T, H*hd]
        k = linear(h, weights, prefix + ".self_attn.k_proj", lora)  # [B, T, KV*hd]
        v = linear(h, weights, prefix + ".self_attn.v_proj", lora)  # [B, T, KV*hd]
        q = q.reshape(batch, length, num_heads, head_dim).transpose(1, 2)  # [B, H, T, hd]
        k = k.reshape(batch, length, num_kv_heads, head_dim).transpose(1, 2)  # [B, KV, T, hd]
        v = v.reshape(batch, length, num_kv_heads, head_dim).transpose(1, 2)  # [B, KV, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, num_heads // num_kv_heads)  # [B, H, T, hd]
        v = repeat_kv(v, num_heads // num_kv_heads)  # [B, H, T, hd]
        context = attention(q, k, v, allowed).transpose(1, 2).reshape(batch, length, num_heads * head_dim)
        x = x + linear(context, weights, prefix + ".self_attn.o_proj", lora)
        h = rms_norm(x, weights[prefix + ".post_attention_layernorm.weight"], eps)
        gate = linear(h, weights, prefix + ".mlp.gate_proj", lora)  # [B, T, I]
        up = linear(h, weights, prefix + ".mlp.up_proj", lora)  # [B, T, I]
        x = x + linear(F.silu(gate) * up, weights, prefix + ".mlp.down_proj", lora)
    x = rms_norm(x, weights["model.norm.weight"], eps)
    head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])  # tied when absent
    return x @ head.T  # [B, T, V]


def llama_config(variant: str) -> dict:
    if variant == "qwen2":
        return {
            "architectures": ["Qwen2ForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": 93,
            "eos_token_id": 94,
            "hidden_act": "silu",
            "hidden_size": HIDDEN_SIZE,
            "initializer_range": 0.02,
            "intermediate_size": 64,
            "max_position_embeddings": MAX_POSITIONS,
            "max_window_layers": NUM_LAYERS,
            "model_type": "qwen2",
            "num_attention_heads": NUM_HEADS,
            "num_hidden_layers": NUM_LAYERS,
            "num_key_value_heads": 2,
            "pad_token_id": 95,
            "rms_norm_eps": 1e-06,
            "rope_scaling": None,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "transformers_version": TRANSFORMERS_VERSION,
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": VOCAB_SIZE,
        }
    bf16 = variant == "llama_bf16"
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": HIDDEN_SIZE // NUM_HEADS,
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": MAX_POSITIONS,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": NUM_HEADS,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": 2,
        "pad_token_id": 0,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        # transformers >= 4.45 writes both keys after standardizing the legacy "type".
        "rope_scaling": {"factor": 2.0, "rope_type": "linear", "type": "linear"} if bf16 else None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": bf16,
        "torch_dtype": "bfloat16" if bf16 else "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }


def llama_random_weights(seed: int, config: dict, qkv_bias: bool) -> dict:
    generator = torch.Generator().manual_seed(seed)
    d = config["hidden_size"]
    head_dim = config.get("head_dim") or d // config["num_attention_heads"]
    q_out = config["num_attention_heads"] * head_dim
    kv_out = config["num_key_value_heads"] * head_dim
    intermediate = config["intermediate_size"]

    def matrix(*shape):
        return torch.randn(*shape, generator=generator) * 0.2

    def norm_weight():
        return 1.0 + torch.randn(d, generator=generator) * 0.1

    def bias(n):
        return torch.randn(n, generator=generator) * 0.1

    weights = {"model.embed_tokens.weight": matrix(config["vocab_size"], d)}
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}"
        weights[prefix + ".input_layernorm.weight"] = norm_weight()
        weights[prefix + ".self_attn.q_proj.weight"] = matrix(q_out, d)  # nn.Linear [out, in]
        weights[prefix + ".self_attn.k_proj.weight"] = matrix(kv_out, d)
        weights[prefix + ".self_attn.v_proj.weight"] = matrix(kv_out, d)
        if qkv_bias:
            weights[prefix + ".self_attn.q_proj.bias"] = bias(q_out)
            weights[prefix + ".self_attn.k_proj.bias"] = bias(kv_out)
            weights[prefix + ".self_attn.v_proj.bias"] = bias(kv_out)
        weights[prefix + ".self_attn.o_proj.weight"] = matrix(d, q_out)
        weights[prefix + ".post_attention_layernorm.weight"] = norm_weight()
        weights[prefix + ".mlp.gate_proj.weight"] = matrix(intermediate, d)
        weights[prefix + ".mlp.up_proj.weight"] = matrix(intermediate, d)
        weights[prefix + ".mlp.down_proj.weight"] = matrix(d, intermediate)
    weights["model.norm.weight"] = norm_weight()
    if not config["tie_word_embeddings"]:
        weights["lm_head.weight"] = matrix(config["vocab_size"], d)
    return weights


def llama_weights_from_checkpoint(tensors: dict) -> dict:
    return {name: tensor.to(COMPUTE_DTYPE) for name, tensor in tensors.items()}


# ----------------------------------------------------------------------------------------------------------
# shared output helpers
# ----------------------------------------------------------------------------------------------------------


def round_float32(value: float) -> float:
    """float32-rounded value written with 9 significant digits (enough to round-trip a float32)."""
    return float("%.9g" % float(torch.tensor(value, dtype=torch.float32).item()))


def to_nested_floats(tensor: torch.Tensor):
    if tensor.dim() == 0:
        return round_float32(tensor.item())
    return [to_nested_floats(row) for row in tensor]


def sequence_log_probs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """[B, T-1]: log_softmax(logits[:, t])[input_ids[:, t+1]] for t in 0..T-2."""
    log_probs = torch.log_softmax(logits[:, :-1, :], dim=-1)  # [B, T-1, V]
    return log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [B, T-1]


def check_padding_semantics(forward, weights, config, input_ids, attention_mask, logits, lora=None, where=""):
    """Row 1's logits at real positions must equal those of its unpadded tokens run alone."""
    real = attention_mask[1].bool()
    alone_ids = input_ids[1:2, real]  # [1, T_real]
    alone_mask = torch.ones_like(alone_ids)
    alone_logits = forward(weights, config, alone_ids, alone_mask, position_ids_from_mask(alone_mask), lora)
    difference = (alone_logits[0] - logits[1, real]).abs().max().item()
    assert difference < 1e-5, f"{where}: padded row differs from the unpadded run by {difference}"
    assert torch.isfinite(logits).all(), f"{where}: non-finite logits"
    return difference


def expected_document(input_ids, attention_mask, logits, notes: str, extra: dict | None = None) -> dict:
    position_ids = position_ids_from_mask(attention_mask)
    mask = attention_mask
    document = {
        "inputIds": input_ids.tolist(),
        "attentionMask": attention_mask.tolist(),
        "positionIds": position_ids.tolist(),
        "logits": to_nested_floats(logits),
        "sequenceLogProbs": to_nested_floats(sequence_log_probs(logits, input_ids)),
        # 1 where both the predicting position t and the predicted token t+1 are real.
        "sequenceLogProbsMask": (mask[:, :-1] * mask[:, 1:]).tolist(),
        "notes": notes,
    }
    if extra:
        document.update(extra)
    return document


def write_json(path: str, document) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")


def write_compact_expected(path: str, document: dict) -> None:
    """Like write_json, but every innermost list of numbers on one line so the file stays small and readable."""
    text = json.dumps(document, indent=1)
    number = r"-?[0-9][0-9.eE+-]*"
    text = re.sub(
        r"\[\s+(" + number + r"(?:,\s+" + number + r")*)\s+\]",
        lambda match: "[" + re.sub(r",\s+", ",", match.group(1)) + "]",
        text,
    )
    assert json.loads(text) == document, f"compact JSON of {path} does not round-trip"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


PADDING_NOTES = (
    "Batch of 2, length 8. Row 0: all real tokens. Row 1: LEFT-padded, the first 3 positions are the pad token "
    "with attentionMask 0. positionIds = cumsum(attentionMask) - 1, then 1 where attentionMask is 0 (HF generate's "
    "convention). Attention: query i attends key j iff j <= i and attentionMask[j] == 1. Logits at positions "
    "with attentionMask 0 are NaN-free but meaningless (those pad queries have no allowed key; this reference gives "
    "them uniform attention over all keys): compare only positions with attentionMask 1. The script asserts that "
    "row 1's real-position logits equal those of its 5 real tokens run alone (positions 0..4) within 1e-5. "
    "sequenceLogProbs[b][t] = log_softmax(logits[b][t])[inputIds[b][t+1]] for t = 0..6; compare only where "
    "sequenceLogProbsMask is 1 (both t and t+1 real). Computed in float64 from the stored weights, written rounded "
    "to float32."
)


# ----------------------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------------------


def float32_recompute_difference(forward, weights, config, input_ids, attention_mask, logits, lora=None) -> float:
    """How far a float32 implementation of the same math lands from the float64 reference (real positions):
    the scale of tolerance a TypeScript test needs."""
    global COMPUTE_DTYPE
    saved = COMPUTE_DTYPE
    COMPUTE_DTYPE = torch.float32
    try:
        weights32 = {name: tensor.to(torch.float32) for name, tensor in weights.items()}
        lora32 = None if lora is None else {m: (a.float(), b.float(), s) for m, (a, b, s) in lora.items()}
        logits32 = forward(weights32, config, input_ids, attention_mask, position_ids_from_mask(attention_mask), lora32)
    finally:
        COMPUTE_DTYPE = saved
    assert logits32.dtype == torch.float32
    return (logits32.double() - logits)[attention_mask.bool()].abs().max().item()


def write_case(case: str, config: dict, checkpoint: dict, weights: dict, forward, input_seed: int, notes: str):
    directory = os.path.join(MODELS_FIXTURE_ROOT, case)
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "config.json"), config)
    write_safetensors(os.path.join(directory, "model.safetensors"), checkpoint, metadata={"format": "pt"})
    # Re-read what was written so the reference uses exactly the stored bits.
    stored, _ = read_safetensors(os.path.join(directory, "model.safetensors"))
    for name, tensor in checkpoint.items():
        assert torch.equal(stored[name], tensor), f"{case}: {name} did not round-trip through safetensors"
    pad_token_id = config["pad_token_id"]
    low, high = 3, 90  # real tokens avoid every special id used by these configs
    input_ids, attention_mask = make_inputs(input_seed, pad_token_id, low, high)
    position_ids = position_ids_from_mask(attention_mask)
    logits = forward(weights, config, input_ids, attention_mask, position_ids)
    difference = check_padding_semantics(forward, weights, config, input_ids, attention_mask, logits, where=case)
    document = expected_document(input_ids, attention_mask, logits, notes + " " + PADDING_NOTES)
    write_compact_expected(os.path.join(directory, "expected.json"), document)
    real = attention_mask.bool()
    float32_difference = float32_recompute_difference(forward, weights, config, input_ids, attention_mask, logits)
    print(
        f"{case}: logits std {logits[real].std().item():.3f}, max |logit| {logits[real].abs().max().item():.3f}, "
        f"padded-vs-alone max diff {difference:.2e}, float32-recompute max diff {float32_difference:.2e}"
    )
    return logits


def build_gpt2():
    weights32 = gpt2_random_weights(seed=1234)
    checkpoint = {name[len("transformer.") :]: tensor for name, tensor in weights32.items()}
    # The hub's `gpt2` checkpoint also holds each layer's causal-mask buffer `h.{i}.attn.bias`
    # [1, 1, n_positions, n_positions] (1 on and below the diagonal). Loaders must ignore it.
    for layer in range(NUM_LAYERS):
        mask_buffer = torch.tril(torch.ones(MAX_POSITIONS, MAX_POSITIONS)).reshape(1, 1, MAX_POSITIONS, MAX_POSITIONS)
        checkpoint[f"h.{layer}.attn.bias"] = mask_buffer
    weights = gpt2_weights_from_checkpoint(checkpoint)
    notes = (
        "GPT-2 as the hub's original `gpt2` checkpoint is laid out: tensor names WITHOUT the 'transformer.' prefix "
        "(wte.weight, wpe.weight, h.{i}.ln_1.*, h.{i}.attn.c_attn.*, h.{i}.attn.c_proj.*, h.{i}.ln_2.*, "
        "h.{i}.mlp.c_fc.*, h.{i}.mlp.c_proj.*, ln_f.*), plus the non-parameter causal-mask buffers h.{i}.attn.bias "
        "[1,1,64,64] that a loader must skip (do not confuse with h.{i}.attn.c_attn.bias). Conv1D weights are "
        "stored [in, out] and applied as x @ W + b. No lm_head.weight: the head is tied to wte (logits = h @ wte^T). "
        "Activation gelu_new (tanh approximation). config.json carries n_ctx like the hub's gpt2 config."
    )
    write_case("gpt2", gpt2_config("hub"), checkpoint, weights, gpt2_forward, input_seed=11, notes=notes)


def build_gpt2_prefixed():
    weights32 = gpt2_random_weights(seed=5678)
    checkpoint = dict(weights32)
    checkpoint["lm_head.weight"] = weights32["transformer.wte.weight"].clone()
    weights = gpt2_weights_from_checkpoint(checkpoint)
    notes = (
        "GPT-2 with every tensor name under 'transformer.' (the module path inside GPT2LMHeadModel) and an explicit "
        "lm_head.weight equal to transformer.wte.weight (tie_word_embeddings true). This is what a torch "
        "pytorch_model.bin or an older/third-party conversion holds; current transformers save_pretrained with "
        "safetensors DROPS lm_head.weight because it shares storage with wte (_tied_weights_keys), so loaders must "
        "accept both: use lm_head.weight when present, else wte. Conv1D weights [in, out]."
    )
    write_case("gpt2_prefixed", gpt2_config("saved"), checkpoint, weights, gpt2_forward, input_seed=22, notes=notes)


def build_llama():
    config = llama_config("llama")
    weights32 = llama_random_weights(seed=4321, config=config, qkv_bias=False)
    weights = llama_weights_from_checkpoint(weights32)
    notes = (
        "Llama, float32, GQA (4 query heads, 2 kv heads, head_dim 8: query head h uses kv head h // 2), "
        "rope_theta 10000 with HF's rotate-half layout (head dim split in two halves, NOT interleaved pairs), "
        "RMSNorm eps 1e-6 (weight * x / sqrt(mean(x^2) + eps)), SiLU-gated MLP down(silu(gate(x)) * up(x)), "
        "no biases, untied lm_head.weight. nn.Linear weights stored [out, in]."
    )
    write_case("llama", config, weights32, weights, llama_forward, input_seed=33, notes=notes)


def build_llama_bf16():
    config = llama_config("llama_bf16")
    weights32 = llama_random_weights(seed=8765, config=config, qkv_bias=False)
    checkpoint = {name: tensor.to(torch.bfloat16) for name, tensor in weights32.items()}
    weights = llama_weights_from_checkpoint(checkpoint)
    notes = (
        "Llama stored in BF16 (every tensor dtype BF16 in the safetensors header; torch_dtype bfloat16). Reference "
        "logits are computed in float64 from the bf16 weights upcast exactly (bf16 -> f32 is exact: the bf16 bits "
        "are the upper 16 bits of the f32). rope_scaling {type/rope_type: linear, factor 2}: RoPE angles use "
        "position / 2 (equivalently inv_freq / 2). tie_word_embeddings true and no lm_head.weight in the file "
        "(as save_pretrained writes tied weights with safetensors): logits = h @ embed_tokens^T. GQA 4/2 heads."
    )
    write_case("llama_bf16", config, checkpoint, weights, llama_forward, input_seed=44, notes=notes)


def build_qwen2():
    config = llama_config("qwen2")
    weights32 = llama_random_weights(seed=2468, config=config, qkv_bias=True)
    weights = llama_weights_from_checkpoint(weights32)
    notes = (
        "Qwen2 = Llama architecture plus biases on q_proj, k_proj, v_proj (no bias on o_proj or the MLP). "
        "rope_theta 1e6, rms_norm_eps 1e-6, GQA 4/2 heads, untied lm_head.weight, float32. config.json has no "
        "head_dim key (head_dim = hidden_size / num_attention_heads); use_sliding_window false."
    )
    write_case("qwen2", config, weights32, weights, llama_forward, input_seed=55, notes=notes)


def self_checks():
    """Sanity checks of the hand-written pieces against PyTorch built-ins."""
    x = torch.linspace(-4, 4, 101, dtype=COMPUTE_DTYPE)
    assert torch.allclose(gelu_new(x), F.gelu(x, approximate="tanh"), atol=1e-12)
    # rotate-half RoPE preserves norms and relative-position dot products.
    cos, sin = rope_cos_sin(torch.tensor([[3, 7]]), 8, {"rope_theta": 10000.0})
    q = torch.randn(8, dtype=COMPUTE_DTYPE, generator=torch.Generator().manual_seed(0))
    k = torch.randn(8, dtype=COMPUTE_DTYPE, generator=torch.Generator().manual_seed(1))
    rotated_q = q * cos[0, 0, 1] + rotate_half(q) * sin[0, 0, 1]  # q at position 7
    rotated_k = k * cos[0, 0, 0] + rotate_half(k) * sin[0, 0, 0]  # k at position 3
    cos2, sin2 = rope_cos_sin(torch.tensor([[0, 4]]), 8, {"rope_theta": 10000.0})
    rotated_q2 = q * cos2[0, 0, 1] + rotate_half(q) * sin2[0, 0, 1]  # q at position 4
    rotated_k2 = k * cos2[0, 0, 0] + rotate_half(k) * sin2[0, 0, 0]  # k at position 0
    assert abs((rotated_q @ rotated_k) - (rotated_q2 @ rotated_k2)) < 1e-10


def max_real_difference(a: torch.Tensor, b: torch.Tensor, attention_mask: torch.Tensor) -> float:
    real = attention_mask.bool()
    return (a[real] - b[real]).abs().max().item()


def sensitivity_checks():
    """Each common implementation mistake must move the real-position logits far beyond a float32 tolerance,
    so a TypeScript test comparing against these fixtures at ~1e-4 really detects it."""
    module = sys.modules[__name__]
    cases = {
        "gpt2": (gpt2_config("hub"), gpt2_random_weights(1234), gpt2_forward, 11, 95),
        "llama": (llama_config("llama"), None, llama_forward, 33, 0),
        "llama_bf16": (llama_config("llama_bf16"), None, llama_forward, 44, 0),
        "qwen2": (llama_config("qwen2"), None, llama_forward, 55, 95),
    }

    def load(case):
        tensors, _ = read_safetensors(os.path.join(MODELS_FIXTURE_ROOT, case, "model.safetensors"))
        return gpt2_weights_from_checkpoint(tensors) if case.startswith("gpt2") else llama_weights_from_checkpoint(tensors)

    def interleaved_rope_cos_sin(position_ids, head_dim, config):
        cos, sin = original["rope_cos_sin"](position_ids, head_dim, config)
        half = head_dim // 2
        return cos[..., :half].repeat_interleave(2, -1), sin[..., :half].repeat_interleave(2, -1)

    def interleaved_rotate(x):
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).reshape(x.shape)

    def causal_only(attention_mask):
        return original["allowed_attention"](torch.ones_like(attention_mask))

    mutations = {
        "gpt2": {
            "exact erf GELU instead of gelu_new": {"gelu_new": lambda x: F.gelu(x)},
            "pad keys not masked": {"allowed_attention": causal_only},
            "positions 0..T-1 ignoring the mask": {"position_ids_from_mask": lambda m: torch.arange(m.shape[1]).expand_as(m)},
        },
        "llama": {
            "interleaved-pair RoPE instead of rotate-half": {
                "rope_cos_sin": interleaved_rope_cos_sin,
                "rotate_half": interleaved_rotate,
            },
            "GQA kv head h % KV instead of h // repeats": {"repeat_kv": lambda x, n: x.repeat(1, n, 1, 1)},
            "pad keys not masked": {"allowed_attention": causal_only},
            # (No position-offset mutation here: RoPE scores depend only on i - j, so shifting every position of
            # a row by the pad count leaves real-position logits unchanged; only GPT-2's wpe detects it.)
        },
        "llama_bf16": {
            "rope_scaling ignored": {
                "rope_cos_sin": lambda p, d, c: original["rope_cos_sin"](p, d, {**c, "rope_scaling": None})
            },
        },
        "qwen2": {
            "q/k/v biases ignored": {"linear": lambda x, w, m, l=None: x @ w[m + ".weight"].T},
        },
    }
    names = {name for table in mutations.values() for patch in table.values() for name in patch}
    original = {name: getattr(module, name) for name in names}
    report = {}
    for case, table in mutations.items():
        config, _, forward, seed, pad = cases[case]
        weights = load(case)
        input_ids, attention_mask = make_inputs(seed, pad, 3, 90)
        reference = forward(weights, config, input_ids, attention_mask, position_ids_from_mask(attention_mask))
        for description, patch in table.items():
            try:
                for name, replacement in patch.items():
                    setattr(module, name, replacement)
                mutated = forward(weights, config, input_ids, attention_mask, position_ids_from_mask(attention_mask))
            finally:
                for name in patch:
                    setattr(module, name, original[name])
            difference = max_real_difference(reference, mutated, attention_mask)
            assert difference > 5e-4, f"{case}: mistake '{description}' only moves logits by {difference}"
            report[f"{case}: {description}"] = difference
    for description, difference in report.items():
        print(f"  sensitivity {description}: max |delta logit| {difference:.4g}")


def main():
    torch.set_default_dtype(torch.float32)
    self_checks()
    build_gpt2()
    build_gpt2_prefixed()
    build_llama()
    build_llama_bf16()
    build_qwen2()
    sensitivity_checks()
    # The PEFT fixtures read these base models back, so regenerate them too (one command for every fixture).
    import lora_peft

    lora_peft.main()


if __name__ == "__main__":
    main()
