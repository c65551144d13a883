"""Independent PyTorch reference for the PEFT-format LoRA fixtures of @rlhfjs/lora.

Writes packages/lora/test/fixtures/peft/<case>/{adapter_config.json, adapter_model.safetensors, expected.json,
base.txt} for llama_lora, llama_rslora and gpt2_lora. The base models are the committed fixtures written by
models.py (run that first); their weights are read back from model.safetensors so both always agree.

    /usr/bin/python3 tools/golden/models.py && /usr/bin/python3 tools/golden/lora_peft.py

LoRA semantics written here from Hu et al. 2021 and PEFT's documented behaviour (no `peft` import):
  y = base(x) + scaling * lora_B(lora_A(x)),  lora_A.weight [r, in], lora_B.weight [out, r] (nn.Linear layout),
  scaling = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (Kalajdzievski 2023). lora_dropout 0 here.
For GPT-2's Conv1D (weight [in, out]) PEFT sets fan_in_fan_out = true; that flag changes only how the delta is
MERGED (W_conv1d += scaling * (B @ A)^T), not the stored adapter layouts nor the forward path.
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

PEFT_FIXTURE_ROOT = os.path.join(models.REPO_ROOT, "packages", "lora", "test", "fixtures", "peft")
LLAMA_DIMENSIONS = {  # module name -> (in, out) for the `llama` base fixture
    "q_proj": (32, 32),
    "k_proj": (32, 16),
    "v_proj": (32, 16),
    "o_proj": (32, 32),
    "gate_proj": (32, 64),
    "up_proj": (32, 64),
    "down_proj": (64, 32),
}
LLAMA_PARENT = {name: "self_attn" for name in ("q_proj", "k_proj", "v_proj", "o_proj")}
LLAMA_PARENT.update({name: "mlp" for name in ("gate_proj", "up_proj", "down_proj")})


def adapter_config(r: int, lora_alpha: int, target_modules: list, fan_in_fan_out: bool, use_rslora: bool, base: str):
    """adapter_config.json with the keys PEFT 0.14 writes for a LoraConfig (sorted, as PEFT's to_dict + json.dump)."""
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base,
        "bias": "none",
        "eva_config": None,
        "exclude_modules": None,
        "fan_in_fan_out": fan_in_fan_out,
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": lora_alpha,
        "lora_bias": False,
        "lora_dropout": 0.0,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": r,
        "rank_pattern": {},
        "revision": None,
        "target_modules": target_modules,
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": use_rslora,
    }


def random_adapter(seed: int, module_dimensions: dict, r: int, b_std: float):
    """module path -> (lora_A [r, in], lora_B [out, r]) in float32.
    A ~ U(-1/sqrt(in), 1/sqrt(in)) (the scale of PEFT's kaiming-uniform init); B random and NONZERO (PEFT
    initialises B to zero, which would make the adapter invisible; these stand for trained weights)."""
    generator = torch.Generator().manual_seed(seed)
    adapter = {}
    for module_path, (fan_in, fan_out) in module_dimensions.items():
        bound = 1.0 / math.sqrt(fan_in)
        lora_a = (torch.rand(r, fan_in, generator=generator) * 2 - 1) * bound
        lora_b = torch.randn(fan_out, r, generator=generator) * b_std
        adapter[module_path] = (lora_a, lora_b)
    return adapter


def peft_state_dict(adapter: dict) -> dict:
    """PEFT's saved names: 'base_model.model.' + module path inside the *ForCausalLM model, adapter name removed."""
    tensors = {}
    for module_path, (lora_a, lora_b) in adapter.items():
        tensors[f"base_model.model.{module_path}.lora_A.weight"] = lora_a
        tensors[f"base_model.model.{module_path}.lora_B.weight"] = lora_b
    return tensors


def merged_weights(weights: dict, lora: dict, fan_in_fan_out: bool) -> dict:
    """W + scaling * B @ A ([out, in]); transposed to [in, out] for Conv1D (fan_in_fan_out)."""
    merged = dict(weights)
    for module_path, (lora_a, lora_b, scaling) in lora.items():
        delta = scaling * (lora_b.double() @ lora_a.double())  # [out, in]
        merged[module_path + ".weight"] = weights[module_path + ".weight"] + (delta.T if fan_in_fan_out else delta)
    return merged


def write_peft_case(case, base_case, config_document, adapter, scaling, forward, weights_from_checkpoint, notes,
                    alternative_scaling=None):
    base_directory = os.path.join(models.MODELS_FIXTURE_ROOT, base_case)
    directory = os.path.join(PEFT_FIXTURE_ROOT, case)
    os.makedirs(directory, exist_ok=True)

    base_config = models.json.load(open(os.path.join(base_directory, "config.json"), encoding="utf-8"))
    base_expected = models.json.load(open(os.path.join(base_directory, "expected.json"), encoding="utf-8"))
    tensors, _ = read_safetensors(os.path.join(base_directory, "model.safetensors"))
    weights = weights_from_checkpoint(tensors)

    models.write_json(os.path.join(directory, "adapter_config.json"), config_document)
    state = peft_state_dict(adapter)
    write_safetensors(os.path.join(directory, "adapter_model.safetensors"), state, metadata={"format": "pt"})
    stored, _ = read_safetensors(os.path.join(directory, "adapter_model.safetensors"))
    assert all(torch.equal(stored[name], tensor) for name, tensor in state.items()) and len(stored) == len(state)
    relative_base = os.path.relpath(base_directory, directory)
    with open(os.path.join(directory, "base.txt"), "w", encoding="utf-8") as handle:
        handle.write(relative_base + "\n")

    input_ids = torch.tensor(base_expected["inputIds"])
    attention_mask = torch.tensor(base_expected["attentionMask"])
    position_ids = models.position_ids_from_mask(attention_mask)
    lora = {path: (a.double(), b.double(), scaling) for path, (a, b) in adapter.items()}
    logits = forward(weights, base_config, input_ids, attention_mask, position_ids, lora)
    padding_difference = models.check_padding_semantics(
        forward, weights, base_config, input_ids, attention_mask, logits, lora, where=case
    )

    # Checks: the adapter matters; merging gives the same function; the scaling rule matters.
    real = attention_mask.bool()
    base_logits = forward(weights, base_config, input_ids, attention_mask, position_ids)
    base_fixture_logits = torch.tensor(base_expected["logits"], dtype=torch.float64)
    assert (base_logits - base_fixture_logits)[real].abs().max() < 1e-6, f"{case}: base logits != base fixture"
    adapter_effect = (logits - base_logits)[real].abs().max().item()
    assert adapter_effect > 0.05, f"{case}: adapter barely changes logits ({adapter_effect})"
    fan_in_fan_out = config_document["fan_in_fan_out"]
    merged_logits = forward(merged_weights(weights, lora, fan_in_fan_out), base_config, input_ids, attention_mask,
                            position_ids)
    merge_difference = (merged_logits - logits)[real].abs().max().item()
    assert merge_difference < 1e-10, f"{case}: merged weights disagree with the adapter forward ({merge_difference})"
    message = f"{case}: |adapter - base| max {adapter_effect:.3f}, merged-vs-unmerged {merge_difference:.1e}, "
    message += f"padded-vs-alone {padding_difference:.1e}"
    if alternative_scaling is not None:
        other = {path: (a, b, alternative_scaling) for path, (a, b, _) in lora.items()}
        other_logits = forward(weights, base_config, input_ids, attention_mask, position_ids, other)
        scaling_effect = (other_logits - logits)[real].abs().max().item()
        assert scaling_effect > 0.05, f"{case}: the scaling rule barely matters ({scaling_effect})"
        message += f", |scaling {scaling:.4f} - scaling {alternative_scaling:.4f}| max {scaling_effect:.3f}"
    float32_difference = models.float32_recompute_difference(
        forward, weights, base_config, input_ids, attention_mask, logits, lora
    )
    message += f", float32-recompute {float32_difference:.1e}"
    print(message)

    notes = (
        notes
        + f" Base model: the `{base_case}` fixture ({relative_base}, also in base.txt). scaling = {scaling!r}. "
        + "Inputs, padding and position ids are the base fixture's; " + models.PADDING_NOTES
    )
    document = models.expected_document(input_ids, attention_mask, logits, notes, extra={"scaling": scaling})
    models.write_compact_expected(os.path.join(directory, "expected.json"), document)


def build_llama_lora():
    r, alpha = 4, 8
    targets = ["q_proj", "v_proj"]
    modules = {
        f"model.layers.{layer}.{LLAMA_PARENT[name]}.{name}": LLAMA_DIMENSIONS[name]
        for layer in range(models.NUM_LAYERS)
        for name in targets
    }
    adapter = random_adapter(seed=101, module_dimensions=modules, r=r, b_std=0.2)
    notes = (
        "PEFT LoRA adapter for LlamaForCausalLM: r 4, lora_alpha 8, target_modules q_proj and v_proj in both layers, "
        "scaling = lora_alpha / r = 2. Tensor names base_model.model.model.layers.{i}.self_attn.{q,v}_proj."
        "lora_{A,B}.weight (PEFT prefix 'base_model.model.' + module path inside LlamaForCausalLM, adapter name "
        "'default' stripped); lora_A [r, in], lora_B [out, r]; forward y = W x + scaling * B (A x). lora_B is "
        "random and nonzero."
    )
    config_document = adapter_config(r, alpha, targets, False, False, "rlhfjs-fixtures/llama")
    write_peft_case("llama_lora", "llama", config_document, adapter, alpha / r, models.llama_forward,
                    models.llama_weights_from_checkpoint, notes)


def build_llama_rslora():
    r, alpha = 8, 8
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    modules = {
        f"model.layers.{layer}.{LLAMA_PARENT[name]}.{name}": LLAMA_DIMENSIONS[name]
        for layer in range(models.NUM_LAYERS)
        for name in targets
    }
    adapter = random_adapter(seed=202, module_dimensions=modules, r=r, b_std=0.1)
    notes = (
        "PEFT rsLoRA adapter for LlamaForCausalLM: r 8, lora_alpha 8, use_rslora true, so scaling = lora_alpha / "
        "sqrt(r) = 2.8284271 (NOT alpha / r = 1). Targets all seven projections: "
        "base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight and "
        "base_model.model.model.layers.{i}.mlp.{gate,up,down}_proj.lora_{A,B}.weight; lora_A [r, in], lora_B "
        "[out, r] (k_proj/v_proj out 16, gate/up out 64, down_proj in 64)."
    )
    config_document = adapter_config(r, alpha, targets, False, True, "rlhfjs-fixtures/llama")
    write_peft_case("llama_rslora", "llama", config_document, adapter, alpha / math.sqrt(r), models.llama_forward,
                    models.llama_weights_from_checkpoint, notes, alternative_scaling=alpha / r)


def build_gpt2_lora():
    r, alpha = 4, 8
    d = models.HIDDEN_SIZE
    modules = {f"transformer.h.{layer}.attn.c_attn": (d, 3 * d) for layer in range(models.NUM_LAYERS)}
    adapter = random_adapter(seed=303, module_dimensions=modules, r=r, b_std=0.2)
    notes = (
        "PEFT LoRA adapter for GPT2LMHeadModel: r 4, lora_alpha 8 (scaling 2), target_modules c_attn, "
        "fan_in_fan_out true (PEFT forces it for transformers' Conv1D, whose weight is [in, out]). Tensor names use "
        "the module path inside GPT2LMHeadModel: base_model.model.transformer.h.{i}.attn.c_attn.lora_{A,B}.weight, "
        "even though the base `gpt2` checkpoint's own names lack the 'transformer.' prefix. Layouts are the "
        "nn.Linear ones regardless of fan_in_fan_out: lora_A [r, in] = [4, 32], lora_B [out, r] = [96, 4]; forward "
        "y = x @ W_conv1d + b + scaling * (x @ A^T) @ B^T. fan_in_fan_out only matters when merging: "
        "W_conv1d += scaling * (B @ A)^T."
    )
    config_document = adapter_config(r, alpha, ["c_attn"], True, False, "rlhfjs-fixtures/gpt2")
    write_peft_case("gpt2_lora", "gpt2", config_document, adapter, alpha / r, models.gpt2_forward,
                    models.gpt2_weights_from_checkpoint, notes)


def main():
    build_llama_lora()
    build_llama_rslora()
    build_gpt2_lora()


if __name__ == "__main__":
    main()
