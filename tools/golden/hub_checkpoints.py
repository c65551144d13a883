"""Independent PyTorch reference for checkpoints as transformers 5 saves them (issue 17).

Writes packages/core/test/fixtures/hub/<case>/{config.json, model.safetensors, expected.json} for each rotary
type (llama with rope_type default / linear / dynamic / llama3 / yarn, qwen2 with theta 1e6) and for Qwen3, and
packages/core/test/fixtures/hub/chat_template/ (a template that exists only as chat_template.jinja, rendered with
jinja2 the way transformers renders chat templates). Run from anywhere:

    /usr/bin/python3 tools/golden/hub_checkpoints.py

It does not use `transformers`. The rotary math is written here from transformers 5's modeling_rope_utils.py as
published (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
`_compute_dynamic_ntk_parameters`, `_compute_llama3_parameters`, `_compute_yarn_parameters`, the
`dynamic_rope_update` decorator) and the Qwen3 attention from modeling_qwen3.py (q_norm / k_norm: RMSNorm over
head_dim applied to each head before rotary). Everything else (inputs, masks, GQA, RMSNorm, SwiGLU) is shared with
models.py, whose conventions apply (see tools/golden/README.md). Computed in float64, logits written as float32.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from models import (  # noqa: E402
    PADDING_NOTES,
    allowed_attention,
    attention,
    expected_document,
    linear,
    make_inputs,
    position_ids_from_mask,
    repeat_kv,
    rms_norm,
    rotate_half,
    write_compact_expected,
    write_json,
)
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO_ROOT = models.REPO_ROOT
HUB_FIXTURE_ROOT = os.path.join(REPO_ROOT, "packages", "core", "test", "fixtures", "hub")
TRANSFORMERS_VERSION = "5.0.0"  # the version whose save_pretrained output these config.json files imitate
VOCAB_SIZE = models.VOCAB_SIZE
HIDDEN_SIZE = models.HIDDEN_SIZE
NUM_LAYERS = models.NUM_LAYERS
NUM_HEADS = models.NUM_HEADS


# ----------------------------------------------------------------------------------------------------------
# rotary embeddings from rope_parameters (transformers 5)
# ----------------------------------------------------------------------------------------------------------


def default_inv_freq(base: float, dim: int) -> torch.Tensor:
    """[dim/2]: base^(-2i/dim)."""
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))


def rope_inv_freq(config: dict, seq_len: int):
    """(inv_freq [hd/2], attention_scaling) for config['rope_parameters'] at the given sequence length
    (max position id + 1; only 'dynamic' depends on it)."""
    parameters = config["rope_parameters"]
    rope_type = parameters["rope_type"]
    base = parameters["rope_theta"]
    dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    max_positions = config["max_position_embeddings"]
    if rope_type == "default":
        return default_inv_freq(base, dim), 1.0
    if rope_type == "linear":
        return default_inv_freq(base, dim) / parameters["factor"], 1.0
    if rope_type == "dynamic":
        # dynamic_rope_update: a model that has not seen a longer sequence recomputes inv_freq with
        # seq_len = max(position_ids) + 1 when that exceeds max_position_embeddings; otherwise the original.
        factor = parameters["factor"]
        length = max(seq_len, max_positions)
        grown = base * ((factor * length / max_positions) - (factor - 1)) ** (dim / (dim - 2))
        return default_inv_freq(grown, dim), 1.0
    if rope_type == "llama3":
        inv_freq = default_inv_freq(base, dim)
        factor = parameters["factor"]
        low = parameters["low_freq_factor"]
        high = parameters["high_freq_factor"]
        original = parameters["original_max_position_embeddings"]
        out = []
        for frequency in inv_freq.tolist():
            wavelength = 2 * math.pi / frequency
            if wavelength < original / high:
                out.append(frequency)
            elif wavelength > original / low:
                out.append(frequency / factor)
            else:
                smooth = (original / wavelength - low) / (high - low)
                out.append((1 - smooth) * frequency / factor + smooth * frequency)
        return torch.tensor(out, dtype=torch.float64), 1.0
    if rope_type == "yarn":
        factor = parameters["factor"]
        original = parameters["original_max_position_embeddings"]
        attention_factor = parameters.get("attention_factor")
        if attention_factor is None:
            attention_factor = 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0
        beta_fast = parameters.get("beta_fast") or 32
        beta_slow = parameters.get("beta_slow") or 1

        def correction_dim(rotations):
            return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if parameters.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        extrapolation_weight = 1 - ramp
        extrapolated = default_inv_freq(base, dim)
        interpolated = extrapolated / factor
        return interpolated * (1 - extrapolation_weight) + extrapolated * extrapolation_weight, attention_factor
    raise ValueError(f"rope type {rope_type} not in this reference")


def rope_cos_sin(position_ids: torch.Tensor, config: dict):
    """cos/sin [B, 1, T, hd], times the attention scaling."""
    seq_len = int(position_ids.max().item()) + 1
    inv_freq, scaling = rope_inv_freq(config, seq_len)
    freqs = position_ids.to(torch.float64)[:, :, None] * inv_freq[None, None, :]  # [B, T, hd/2]
    angles = torch.cat((freqs, freqs), dim=-1)  # [B, T, hd]
    return (angles.cos() * scaling)[:, None], (angles.sin() * scaling)[:, None]


# ----------------------------------------------------------------------------------------------------------
# Llama / Qwen2 / Qwen3 forward
# ----------------------------------------------------------------------------------------------------------


def hub_forward(weights: dict, config: dict, input_ids, attention_mask, position_ids, lora=None):
    hidden_size = config["hidden_size"]
    num_heads = config["num_attention_heads"]
    num_kv_heads = config["num_key_value_heads"]
    head_dim = config.get("head_dim") or hidden_size // num_heads
    eps = config["rms_norm_eps"]
    qk_norm = config["model_type"] == "qwen3"
    batch, length = input_ids.shape
    allowed = allowed_attention(attention_mask)
    cos, sin = rope_cos_sin(position_ids, config)
    x = weights["model.embed_tokens.weight"][input_ids]  # [B, T, d]
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}"
        h = rms_norm(x, weights[prefix + ".input_layernorm.weight"], eps)
        q = linear(h, weights, prefix + ".self_attn.q_proj").reshape(batch, length, num_heads, head_dim)  # [B, T, H, hd]
        k = linear(h, weights, prefix + ".self_attn.k_proj").reshape(batch, length, num_kv_heads, head_dim)
        v = linear(h, weights, prefix + ".self_attn.v_proj").reshape(batch, length, num_kv_heads, head_dim)
        if qk_norm:  # Qwen3: RMSNorm over head_dim of every head, before the transpose and rotary
            q = rms_norm(q, weights[prefix + ".self_attn.q_norm.weight"], eps)
            k = rms_norm(k, weights[prefix + ".self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, heads, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, num_heads // num_kv_heads)
        v = repeat_kv(v, num_heads // num_kv_heads)
        context = attention(q, k, v, allowed).transpose(1, 2).reshape(batch, length, num_heads * head_dim)
        x = x + linear(context, weights, prefix + ".self_attn.o_proj")
        h = rms_norm(x, weights[prefix + ".post_attention_layernorm.weight"], eps)
        gate = linear(h, weights, prefix + ".mlp.gate_proj")
        up = linear(h, weights, prefix + ".mlp.up_proj")
        x = x + linear(F.silu(gate) * up, weights, prefix + ".mlp.down_proj")
    x = rms_norm(x, weights["model.norm.weight"], eps)
    head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])
    return x @ head.T  # [B, T, V]


# ----------------------------------------------------------------------------------------------------------
# configs as transformers 5 save_pretrained writes them
# ----------------------------------------------------------------------------------------------------------


def llama_config(rope_parameters: dict, max_positions: int = 64) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "dtype": "float32",
        "eos_token_id": 2,
        "head_dim": HIDDEN_SIZE // NUM_HEADS,
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": max_positions,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": NUM_HEADS,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": 2,
        "pad_token_id": 0,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        "rope_parameters": rope_parameters,
        "tie_word_embeddings": False,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }


def qwen2_config() -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 93,
        "dtype": "float32",
        "eos_token_id": 94,
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_types": ["full_attention"] * NUM_LAYERS,
        "max_position_embeddings": 64,
        "max_window_layers": NUM_LAYERS,
        "model_type": "qwen2",
        "num_attention_heads": NUM_HEADS,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": 2,
        "pad_token_id": 95,
        "rms_norm_eps": 1e-06,
        "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
        "sliding_window": None,
        "tie_word_embeddings": False,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB_SIZE,
    }


def qwen3_config() -> dict:
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 93,
        "dtype": "float32",
        "eos_token_id": 94,
        "head_dim": 16,  # explicit, and not hidden_size / num_attention_heads (= 8)
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_types": ["full_attention"] * NUM_LAYERS,
        "max_position_embeddings": 64,
        "max_window_layers": NUM_LAYERS,
        "model_type": "qwen3",
        "num_attention_heads": NUM_HEADS,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": 2,
        "pad_token_id": 95,
        "rms_norm_eps": 1e-06,
        "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
        "sliding_window": None,
        "tie_word_embeddings": True,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB_SIZE,
    }


def random_weights(seed: int, config: dict) -> dict:
    """models.llama_random_weights plus Qwen2's q/k/v biases or Qwen3's q_norm / k_norm weights [head_dim]."""
    weights = models.llama_random_weights(seed, config, qkv_bias=config["model_type"] == "qwen2")
    if config["model_type"] == "qwen3":
        generator = torch.Generator().manual_seed(seed + 1)
        for layer in range(config["num_hidden_layers"]):
            for name in ("q_norm", "k_norm"):
                weights[f"model.layers.{layer}.self_attn.{name}.weight"] = 1.0 + torch.randn(config["head_dim"], generator=generator) * 0.1
    return weights


CASES = {
    # case: (config, seed, input seed, notes)
    "llama_default": (
        llama_config({"rope_theta": 10000.0, "rope_type": "default"}),
        101, 201,
        "Llama saved by transformers 5: rope_parameters {rope_type default, rope_theta 1e4}, no top-level rope_theta.",
    ),
    "llama_linear": (
        llama_config({"factor": 4.0, "rope_theta": 10000.0, "rope_type": "linear"}),
        102, 202,
        "rope_parameters {rope_type linear, factor 4}: inv_freq / 4.",
    ),
    "llama_dynamic": (
        llama_config({"factor": 2.0, "rope_theta": 10000.0, "rope_type": "dynamic"}, max_positions=6),
        103, 203,
        "rope_parameters {rope_type dynamic, factor 2}, max_position_embeddings 6: the batch's largest position id is 7, "
        "so seq_len 8 > 6 and inv_freq uses base = theta * (factor*8/6 - (factor-1))^(d/(d-2)) (dynamic_rope_update of "
        "a fresh model). Because this depends on the whole batch, row 1 (left-padded) is NOT equal to its tokens run "
        "alone (their seq_len 5 < 6 uses the original inv_freq): compare the batch as given.",
    ),
    "llama3": (
        llama_config(
            {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 64,
             "rope_theta": 10000.0, "rope_type": "llama3"},
            max_positions=256,
        ),
        104, 204,
        "rope_parameters {rope_type llama3, factor 8, low 1, high 4, original_max_position_embeddings 64}, head_dim 8: "
        "wavelengths 6.3 (kept), 62.8 (smoothed), 628 and 6283 (divided by 8) exercise every branch.",
    ),
    "yarn": (
        llama_config(
            {"factor": 4.0, "original_max_position_embeddings": 16, "rope_theta": 10000.0, "rope_type": "yarn"},
            max_positions=64,
        ),
        105, 205,
        "rope_parameters {rope_type yarn, factor 4, original_max_position_embeddings 16}: ramp between extrapolated "
        "and interpolated frequencies (beta_fast 32, beta_slow 1, truncate), cos and sin times attention_factor "
        "0.1*ln(4)+1.",
    ),
    "qwen2_theta": (
        qwen2_config(), 106, 206,
        "Qwen2 saved by transformers 5: rope_parameters {rope_type default, rope_theta 1e6}, q/k/v biases.",
    ),
    "qwen3": (
        qwen3_config(), 107, 207,
        "Qwen3: explicit head_dim 16 (hidden 32 / 4 heads would be 8), q_norm and k_norm (RMSNorm over head_dim, "
        "weights [16], eps rms_norm_eps) on every query and key head before rotary, no biases, "
        "tie_word_embeddings true (no lm_head.weight), rope_theta 1e6, GQA 4/2.",
    ),
}


def write_case(case: str) -> None:
    config, seed, input_seed, notes = CASES[case]
    directory = os.path.join(HUB_FIXTURE_ROOT, case)
    os.makedirs(directory, exist_ok=True)
    weights32 = random_weights(seed, config)
    write_json(os.path.join(directory, "config.json"), config)
    write_safetensors(os.path.join(directory, "model.safetensors"), weights32, metadata={"format": "pt"})
    stored, _ = read_safetensors(os.path.join(directory, "model.safetensors"))
    weights = {name: tensor.to(torch.float64) for name, tensor in stored.items()}
    input_ids, attention_mask = make_inputs(input_seed, config["pad_token_id"], 3, 90)
    logits = hub_forward(weights, config, input_ids, attention_mask, position_ids_from_mask(attention_mask))
    assert torch.isfinite(logits).all()
    if config["rope_parameters"]["rope_type"] != "dynamic":
        models.check_padding_semantics(hub_forward, weights, config, input_ids, attention_mask, logits, where=case)
    document = expected_document(input_ids, attention_mask, logits, notes + " " + PADDING_NOTES)
    write_compact_expected(os.path.join(directory, "expected.json"), document)
    sensitivity = mistake_sensitivity(case, weights, config, input_ids, attention_mask, logits)
    real = attention_mask.bool()
    print(f"{case}: logits std {logits[real].std().item():.3f}; " + ", ".join(f"{k} {v:.3g}" for k, v in sensitivity.items()))


def mistake_sensitivity(case, weights, config, input_ids, attention_mask, logits) -> dict:
    """How far the real-position logits move under the mistake each case exists to catch (must be >> 1e-4)."""
    positions = position_ids_from_mask(attention_mask)
    real = attention_mask.bool()
    variants = {}
    parameters = config["rope_parameters"]
    if parameters["rope_type"] != "default" or parameters["rope_theta"] != 10000.0:
        variants["rope settings ignored (theta 1e4, default)"] = {**config, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}
    if parameters["rope_type"] == "dynamic":
        variants["dynamic not recomputed"] = {**config, "max_position_embeddings": 1000}
    if parameters["rope_type"] == "yarn":
        variants["yarn attention factor ignored"] = {**config, "rope_parameters": {**parameters, "attention_factor": 1.0}}
    if parameters["rope_type"] == "llama3":
        variants["llama3 read as linear"] = {**config, "rope_parameters": {"rope_type": "linear", "factor": 8.0, "rope_theta": 10000.0}}
    if config["model_type"] == "qwen3":
        variants["q/k norm skipped"] = {**config, "model_type": "qwen3_without_norm"}
    report = {}
    for name, variant in variants.items():
        if variant is None:
            continue
        mutated = hub_forward(weights, variant, input_ids, attention_mask, positions)
        difference = (mutated - logits)[real].abs().max().item()
        assert difference > 1e-3, f"{case}: mistake '{name}' moves logits by only {difference}"
        report[name] = difference
    return report


# ----------------------------------------------------------------------------------------------------------
# chat template only in chat_template.jinja
# ----------------------------------------------------------------------------------------------------------

CHAT_TEMPLATE = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = 'You are a helpful assistant.' %}
    {%- set loop_messages = messages %}
{%- endif %}
{{ bos_token }}<|system|>
{{ system_message }}
{% for message in loop_messages %}
    {% if message['role'] not in ['user', 'assistant'] %}
        {{ raise_exception('Only user and assistant roles are supported after the system message') }}
    {% endif %}
    {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {% endif %}
<|{{ message['role'] }}|>
{{ message['content'] | trim }}{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}

{% endfor %}
{% if add_generation_prompt %}
<|assistant|>
{% endif %}
{#- metadata line: exercises tojson and length filters #}
<|meta|>{{ {'turns': loop_messages | length, 'last': loop_messages[-1]['role']} | tojson }}
"""

CHAT_MESSAGES = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "  Capital of France?  "},
    {"role": "assistant", "content": "Paris"},
    {"role": "user", "content": "And of Japan – «東京»?"},
]


def render_like_transformers(template: str, messages, add_generation_prompt: bool, special_tokens: dict) -> str:
    """transformers' _compile_jinja_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
    extensions=[loopcontrols]), globals raise_exception, filter tojson = json.dumps(ensure_ascii=False)."""
    from jinja2.exceptions import TemplateError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    compiled = environment.from_string(template)
    return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt, tools=None, documents=None, **special_tokens)


def write_chat_template() -> None:
    directory = os.path.join(HUB_FIXTURE_ROOT, "chat_template")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "chat_template.jinja"), "w", encoding="utf-8") as handle:
        handle.write(CHAT_TEMPLATE)
    special_tokens = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    rendered = {
        "withGenerationPrompt": render_like_transformers(CHAT_TEMPLATE, CHAT_MESSAGES, True, special_tokens),
        "withoutGenerationPrompt": render_like_transformers(CHAT_TEMPLATE, CHAT_MESSAGES[:3], False, special_tokens),
    }
    try:
        render_like_transformers(CHAT_TEMPLATE, [{"role": "tool", "content": "x"}], False, special_tokens)
        raise AssertionError("raise_exception did not raise")
    except Exception as error:  # jinja2 TemplateError
        error_message = str(error)
    write_json(
        os.path.join(directory, "expected.json"),
        {
            "messages": CHAT_MESSAGES,
            "specialTokens": special_tokens,
            "rendered": rendered,
            "badRolesError": error_message,
            "notes": "chat_template.jinja rendered with jinja2 as transformers does (sandboxed, trim_blocks, "
            "lstrip_blocks, raise_exception, tojson with ensure_ascii False); withGenerationPrompt uses all four "
            "messages, withoutGenerationPrompt the first three. tokenizer_config.json holds no chat_template.",
        },
    )
    print("chat_template:", json.dumps(rendered["withGenerationPrompt"]))


def main():
    torch.set_default_dtype(torch.float32)
    for case in CASES:
        write_case(case)
    write_chat_template()


if __name__ == "__main__":
    main()
