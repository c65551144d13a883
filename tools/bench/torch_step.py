"""One training step of the GPT-2-like reference model (4 layers, d_model 256, 4 heads, vocab 1024, seq 128,
batch 8, Adam) in PyTorch on CPU: the same architecture as packages/native/test/gpt_model.ts (pre-layernorm
blocks, fused qkv projection, causal softmax attention, tanh-gelu MLP, LM head tied to the token embedding).
Prints per-step seconds and, last, one JSON line {median_step_seconds, loss, threads} for the tfjs bench.

    /usr/bin/python3 tools/bench/torch_step.py [--steps 5]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

LAYERS, D, HEADS, VOCAB, SEQ, BATCH = 4, 256, 4, 1024, 128, 8


def make_weights(generator):
    def uniform(*shape, scale):
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * scale).requires_grad_()

    w = {"wte": uniform(VOCAB, D, scale=0.05), "wpe": uniform(SEQ, D, scale=0.02)}
    for layer in range(LAYERS):
        w[f"h{layer}.ln1.g"] = torch.ones(D, requires_grad=True)
        w[f"h{layer}.ln1.b"] = torch.zeros(D, requires_grad=True)
        w[f"h{layer}.attn.w"] = uniform(D, 3 * D, scale=0.05)
        w[f"h{layer}.attn.b"] = uniform(3 * D, scale=0.01)
        w[f"h{layer}.proj.w"] = uniform(D, D, scale=0.05)
        w[f"h{layer}.proj.b"] = uniform(D, scale=0.01)
        w[f"h{layer}.ln2.g"] = torch.ones(D, requires_grad=True)
        w[f"h{layer}.ln2.b"] = torch.zeros(D, requires_grad=True)
        w[f"h{layer}.fc.w"] = uniform(D, 4 * D, scale=0.05)
        w[f"h{layer}.fc.b"] = uniform(4 * D, scale=0.01)
        w[f"h{layer}.out.w"] = uniform(4 * D, D, scale=0.03)
        w[f"h{layer}.out.b"] = uniform(D, scale=0.01)
    w["lnf.g"] = torch.ones(D, requires_grad=True)
    w["lnf.b"] = torch.zeros(D, requires_grad=True)
    return w


def gelu(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def loss_fn(w, ids, targets):
    batch, time_steps = ids.shape
    head_dim = D // HEADS
    x = w["wte"][ids] + w["wpe"][:time_steps]  # [B, T, D]
    mask = torch.triu(torch.full((time_steps, time_steps), -1e9), diagonal=1)  # [T, T]
    for layer in range(LAYERS):
        h = F.layer_norm(x, (D,), w[f"h{layer}.ln1.g"], w[f"h{layer}.ln1.b"], 1e-5)
        qkv = h @ w[f"h{layer}.attn.w"] + w[f"h{layer}.attn.b"]  # [B, T, 3D]
        q, k, v = (part.view(batch, time_steps, HEADS, head_dim).transpose(1, 2) for part in qkv.split(D, dim=-1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + mask  # [B, H, T, T]
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, time_steps, D)  # [B, T, D]
        x = x + attended @ w[f"h{layer}.proj.w"] + w[f"h{layer}.proj.b"]
        h2 = F.layer_norm(x, (D,), w[f"h{layer}.ln2.g"], w[f"h{layer}.ln2.b"], 1e-5)
        x = x + gelu(h2 @ w[f"h{layer}.fc.w"] + w[f"h{layer}.fc.b"]) @ w[f"h{layer}.out.w"] + w[f"h{layer}.out.b"]
    final = F.layer_norm(x, (D,), w["lnf.g"], w["lnf.b"], 1e-5)
    logits = final @ w["wte"].t()  # [B, T, V]
    return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    weights = make_weights(generator)
    tokens = torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=generator)
    ids, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.Adam(list(weights.values()), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(weights, ids, targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(2):
        step()
    samples = []
    loss = float("nan")
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = step()
        samples.append(time.perf_counter() - start)
    print("torch steps: " + " ".join(f"{s:.3f}" for s in samples))
    print(json.dumps({"median_step_seconds": statistics.median(samples), "loss": loss,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
