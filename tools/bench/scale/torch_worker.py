"""The PyTorch side of `npm run bench:scale`: the same workload as scale_worker.ts in plain PyTorch (our own model
code, the math of tools/golden/models.py: GPT-2 with Conv1D layout, Llama/Qwen2 with rotate-half RoPE and GQA),
loading the same safetensors file. Greedy generation is an HF-generate-like loop: prefill, then one token a
step with a key/value cache grown by torch.cat (as transformers' DynamicCache does). Prints one line
`RESULT {...}` like the rlhfjs worker, plus the BLAS torch is linked to.

    /usr/bin/python3 tools/bench/scale/torch_worker.py --dir <checkpoint> --row forward --batch 1 --length 128 \
        --new-tokens 0 [--reps 2] [--lora-targets q_proj,v_proj] [--threads 2]
"""
import argparse
import json
import math
import re
import resource
import statistics
import struct
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """Tensors by name as views of one bytearray (no second copy of a 2 GB file)."""
    with open(path, "rb") as handle:
        raw = bytearray(handle.read())
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_length].decode("utf-8"))
    header.pop("__metadata__", None)
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end == begin:
            tensors[name] = torch.zeros(info["shape"], dtype=dtype)
            continue
        flat = torch.frombuffer(raw, dtype=dtype, count=(end - begin) // torch.empty(0, dtype=dtype).element_size(), offset=base + begin)
        tensors[name] = flat.reshape(info["shape"]).float()
    return tensors


class Model:
    """A decoder-only transformer over a dict of HF-named weights; `lora` adds B·A·scale on target modules."""

    def __init__(self, config, weights):
        self.config = config
        self.w = weights
        self.gpt2 = config["model_type"] == "gpt2"
        if self.gpt2:
            self.layers, self.hidden, self.heads = config["n_layer"], config["n_embd"], config["n_head"]
            self.kv_heads = self.heads
            self.eps = config.get("layer_norm_epsilon", 1e-5)
        else:
            self.layers, self.hidden, self.heads = config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]
            self.kv_heads = config.get("num_key_value_heads", self.heads)
            self.eps = config.get("rms_norm_eps", 1e-6)
            self.theta = config.get("rope_theta", 10000.0)
        self.head_dim = self.hidden // self.heads
        self.tied = config.get("tie_word_embeddings", True)
        self.lora = {}
        self.checkpoint = False

    def add_lora(self, targets, rank=16, alpha=32):
        params = []
        for name in list(self.w):
            if not name.endswith(".weight"):
                continue
            module = name[: -len(".weight")]
            if module.split(".")[-1] not in targets:
                continue
            weight = self.w[name]
            in_features, out_features = (weight.shape[0], weight.shape[1]) if self.gpt2 else (weight.shape[1], weight.shape[0])
            a = torch.empty(rank, in_features)
            torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # PEFT's default init of A; B starts at zero
            b = torch.zeros(out_features, rank)
            a.requires_grad_()
            b.requires_grad_()
            self.lora[module] = (a, b, alpha / rank)
            params += [a, b]
        return params

    def project(self, x, module):
        weight = self.w[module + ".weight"]
        out = x @ weight if self.gpt2 else F.linear(x, weight)
        bias = self.w.get(module + ".bias")
        if bias is not None:
            out = out + bias
        if module in self.lora:
            a, b, scale = self.lora[module]
            out = out + (x @ a.t() @ b.t()) * scale
        return out

    def rope(self, positions):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        angles = positions.float()[:, None] * inv[None, :]  # [T, d/2]
        full = torch.cat([angles, angles], -1)  # [T, d]
        return full.cos(), full.sin()

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def attend(self, q, k, v, past_length):
        """q [B, H, T, d], k/v [B, Hkv, S, d]; causal over absolute positions."""
        groups = self.heads // self.kv_heads
        if groups > 1:
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
        length, keys = q.shape[2], k.shape[2]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # [B, H, T, S]
        if length > 1:
            allowed = torch.arange(keys)[None, :] <= (torch.arange(length)[:, None] + past_length)
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        return scores.softmax(-1) @ v  # [B, H, T, d]

    def block(self, x, layer, cos, sin, cache, past):
        """One transformer block: x [B, T, D] → x [B, T, D] and this layer's (k, v) [B, Hkv, P + T, d]."""
        batch, length = x.shape[0], x.shape[1]
        if self.gpt2:
            p = f"transformer.h.{layer}"
            h = F.layer_norm(x, (self.hidden,), self.w[p + ".ln_1.weight"], self.w[p + ".ln_1.bias"], self.eps)
            q, k, v = self.project(h, p + ".attn.c_attn").split(self.hidden, dim=-1)
            q, k, v = (t.view(batch, length, -1, self.head_dim).transpose(1, 2) for t in (q, k, v))
        else:
            p = f"model.layers.{layer}"
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w[p + ".input_layernorm.weight"]
            q = self.project(h, p + ".self_attn.q_proj").view(batch, length, self.heads, self.head_dim).transpose(1, 2)
            k = self.project(h, p + ".self_attn.k_proj").view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            v = self.project(h, p + ".self_attn.v_proj").view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
        if cache is not None:
            k = torch.cat([cache[layer][0], k], 2)
            v = torch.cat([cache[layer][1], v], 2)
        attended = self.attend(q, k, v, past).transpose(1, 2).reshape(batch, length, self.hidden)
        if self.gpt2:
            x = x + self.project(attended, p + ".attn.c_proj")
            h = F.layer_norm(x, (self.hidden,), self.w[p + ".ln_2.weight"], self.w[p + ".ln_2.bias"], self.eps)
            x = x + self.project(F.gelu(self.project(h, p + ".mlp.c_fc"), approximate="tanh"), p + ".mlp.c_proj")
        else:
            x = x + self.project(attended, p + ".self_attn.o_proj")
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w[p + ".post_attention_layernorm.weight"]
            x = x + self.project(F.silu(self.project(h, p + ".mlp.gate_proj")) * self.project(h, p + ".mlp.up_proj"), p + ".mlp.down_proj")
        return x, (k, v)

    def forward(self, ids, cache=None, last_only=False):
        """ids [B, T] → logits [B, T or 1, V], new cache (list of (k, v) per layer)."""
        batch, length = ids.shape
        past = 0 if cache is None else cache[0][0].shape[2]
        positions = torch.arange(past, past + length)
        new_cache = []
        if self.gpt2:
            x = self.w["transformer.wte.weight"][ids] + self.w["transformer.wpe.weight"][positions]
            cos, sin = None, None
        else:
            x = self.w["model.embed_tokens.weight"][ids]
            cos, sin = self.rope(positions)
        for layer in range(self.layers):
            if self.checkpoint and cache is None and torch.is_grad_enabled():
                # torch.utils.checkpoint per block, as transformers' gradient_checkpointing_enable() does
                x = checkpoint(lambda inner, layer=layer: self.block(inner, layer, cos, sin, None, past)[0], x, use_reentrant=False)
                continue
            x, kv = self.block(x, layer, cos, sin, cache, past)
            new_cache.append(kv)
        if self.gpt2:
            x = F.layer_norm(x, (self.hidden,), self.w["transformer.ln_f.weight"], self.w["transformer.ln_f.bias"], self.eps)
            head = self.w["transformer.wte.weight"]
        else:
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w["model.norm.weight"]
            head = self.w["model.embed_tokens.weight"] if self.tied else self.w["lm_head.weight"]
        if last_only:
            x = x[:, -1:]
        return F.linear(x, head), new_cache


def token_rows(batch, length, vocab):
    """The same deterministic ids as scale_worker.ts."""
    return torch.tensor([[1 + ((b * 7919 + t * 104729 + 17) % (vocab - 1)) for t in range(length)] for b in range(batch)])


def greedy(model, ids, new_tokens, sample=False):
    """HF-generate-like decoding: prefill, then one token a step (argmax, or a draw from softmax when sampling)."""
    with torch.inference_mode():
        logits, cache = model.forward(ids, None, last_only=True)
        out = [ids]
        for _ in range(new_tokens):
            if sample:
                token = torch.multinomial(logits[:, -1].softmax(-1), 1)  # [B, 1]
            else:
                token = logits[:, -1].argmax(-1, keepdim=True)  # [B, 1]
            out.append(token)
            logits, cache = model.forward(token, cache, last_only=True)
        return torch.cat(out, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--row", required=True, choices=["forward", "gen1", "gen8", "lora", "full", "fullckpt"])
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--new-tokens", type=int, default=0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--lora-targets", default="q_proj,v_proj")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", action="store_true", help="generation rows sample from softmax instead of argmax")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(f"{args.dir}/config.json") as handle:
        config = json.load(handle)
    tensors = read_safetensors(f"{args.dir}/model.safetensors")
    if config["model_type"] == "gpt2" and "wte.weight" in tensors:  # hub GPT-2 files drop the `transformer.` prefix
        tensors = {f"transformer.{name}": tensor for name, tensor in tensors.items()}
    model = Model(config, tensors)
    vocab = config["vocab_size"]
    ids = token_rows(args.batch, args.length, vocab)
    if args.row == "forward":
        def work():
            with torch.inference_mode():
                model.forward(ids)[0].sum().item()
    elif args.row in ("gen1", "gen8"):
        def work():
            greedy(model, ids, args.new_tokens, args.sample)
    else:
        if args.row == "lora":
            params = model.add_lora(args.lora_targets.split(","))
        else:
            model.checkpoint = args.row == "fullckpt"
            params = list(model.w.values())
            for tensor in params:
                tensor.requires_grad_()
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

        def work():
            optimizer.zero_grad(set_to_none=True)
            logits, _ = model.forward(ids)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
            loss.backward()
            optimizer.step()
            loss.item()
    if args.row in ("gen1", "gen8"):
        greedy(model, ids, 4)  # warm-up: a short generation, as the rlhfjs worker does
    else:
        work()  # warm-up
    samples = []
    for _ in range(args.reps):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    seconds = statistics.median(samples)
    blas = re.findall(r"BLAS_INFO=(\w+)", torch.__config__.show())
    result = {
        "side": "torch", "backend": f"torch {torch.__version__}", "row": args.row, "seconds": seconds, "samples": samples,
        "tokensPerSecond": args.batch * args.new_tokens / seconds if args.new_tokens > 0 else None,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "threads": torch.get_num_threads(),
        "blas": blas[0] if blas else "unknown",
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
