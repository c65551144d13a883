"""Reference goldens for @rlhfjs/ppo's critic-free estimators and the GRPO loss family.

Independent PyTorch (float64), written from the published definitions (no TRL/OpenRLHF code imported or copied):
- group advantages as TRL 1.x's GRPOTrainer defines them: reward minus the group mean, divided by (unbiased std +
  1e-4) of the group (`scale_rewards="group"`), of the whole batch (`"batch"`), or not at all (`"none"`); metrics
  `reward` (mean), `reward_std` (mean of the std used), `frac_reward_zero_std` (fraction of std ~ 0);
- TRL 1.x's GRPO loss: ratio exp(log pi - log pi_old) per token, or per sequence (GSPO: exp of the masked mean log
  ratio over the completion), clipped to [1 - eps_low, 1 + eps_high], optional upper clamp delta of the unclipped
  ratio, per-token loss -min(r*A, clip(r)*A) + beta * k3 KL (exp(ref - logp) - (ref - logp) - 1), normalised as
  grpo (mean over sequences of the per-sequence token mean), bnpo (token mean of the local batch), dr_grpo (sum /
  (B * max_completion_length)), dapo (sum / (num_items_in_batch / num_processes)); clip metrics are means of
  (r < 1 - eps_low) & (A < 0), (r > 1 + eps_high) & (A > 0) and their union, over masked tokens (token level) or
  over sequences (sequence level);
- RLOO (Ahmadian et al. 2024): advantage = r_i - mean of the other G - 1 rewards of the group, optionally
  normalised over the batch by (unbiased std + 1e-4) after subtracting the batch mean;
- REINFORCE++ (Hu 2025, OpenRLHF): per-token reward -beta * KL_t (k1) plus the score on the last real token,
  discounted return-to-go, normalised over the global batch of tokens by the masked mean and the masked biased
  variance clamped at 1e-8.
Writes packages/ppo/test/fixtures/grpo_losses.json. Run: /usr/bin/python3 tools/golden/grpo_losses.py
"""
import itertools
import json
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(19)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def r9(x):
    """float64 list rounded to 9 significant digits (more than float32 holds)."""
    return json.loads(json.dumps(np.asarray(x, dtype=np.float64).tolist(), allow_nan=False), parse_float=lambda s: float(f"{float(s):.9g}"))


# ---------------------------------------------------------------- group advantages
G = 4
rewards = f32([1.0, 0.0, 0.5, 0.25,   0.7, 0.7, 0.7, 0.7,   2.0, -1.0, 0.5, 3.0])  # group 1 all equal


def group_advantages(r, g, scale):
    r = torch.tensor(r)
    grouped = r.view(-1, g)
    mean = grouped.mean(dim=1).repeat_interleave(g)
    adv = r - mean
    if scale in ("group", "none"):
        std = grouped.std(dim=1).repeat_interleave(g)
    elif scale == "batch":
        std = r.std().expand_as(r)
    else:
        raise ValueError(scale)
    zero = torch.isclose(std, torch.zeros_like(std))
    if scale != "none":
        adv = adv / (std + 1e-4)
    return adv, {"reward": mean.mean().item(), "reward_std": std.mean().item(), "frac_reward_zero_std": zero.double().mean().item()}


advantage_cases = []
for scale in ("group", "batch", "none"):
    adv, metrics = group_advantages(rewards, G, scale)
    advantage_cases.append({"scaleRewards": scale, "advantages": r9(adv), "metrics": metrics})


def rloo(r, g, normalize):
    r = torch.tensor(r).view(-1, g)
    baseline = (r.sum(dim=1, keepdim=True) - r) / (g - 1)
    adv = (r - baseline).reshape(-1)
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-4)
    return adv


rloo_cases = [{"normalize": n, "advantages": r9(rloo(rewards, G, n))} for n in (False, True)]

# ---------------------------------------------------------------- GRPO loss
B, T = 4, 6
lengths = [6, 3, 5, 2]
mask = np.zeros((B, T))
for b, n in enumerate(lengths):
    mask[b, :n] = 1.0
old = f32(-rng.uniform(0.2, 3.0, size=(B, T)))
logp = f32(old + rng.normal(0, 0.35, size=(B, T)))
logp[1, :3] = f32(old[1, :3] + np.array([0.45, 0.30, 0.40]))  # a sequence whose mean ratio is clipped high
logp[2, :5] = f32(old[2, :5] - np.array([0.40, 0.35, 0.20, 0.30, 0.45]))  # and one clipped low
logp[3, :2] = f32(old[3, :2] + np.array([0.50, 0.55]))  # A < 0 and ratio > delta: the delta clamp acts
ref = f32(logp + rng.normal(0, 0.3, size=(B, T)))
adv = f32([0.8, 1.3, -1.1, -0.4])
MAX_LEN = 8
NUM_ITEMS, NUM_PROCESSES = 37.0, 2


def grpo_loss(o):
    lp = torch.tensor(logp, requires_grad=True)
    M = torch.tensor(mask)
    A = torch.tensor(adv).unsqueeze(1)  # [B, 1]
    log_ratio = lp - torch.tensor(old)
    if o["importanceSamplingLevel"] == "token":
        w = log_ratio
    else:
        w = ((log_ratio * M).sum(-1) / M.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    r = torch.exp(w)
    r_clip = torch.clamp(r, 1 - o["epsilonLow"], 1 + o["epsilonHigh"])
    r_main = r if o["delta"] is None else torch.clamp(r, max=o["delta"])
    per_token = -torch.min(r_main * A, r_clip * A)
    per_token = per_token.expand(B, T)
    R = torch.tensor(ref)
    kl = torch.exp(R - lp) - (R - lp) - 1
    if o["beta"] != 0:
        per_token = per_token + o["beta"] * kl
    s = (per_token * M)
    lt = o["lossType"]
    if lt == "grpo":
        loss = (s.sum(-1) / M.sum(-1).clamp(min=1.0)).mean()
    elif lt == "bnpo":
        loss = s.sum() / M.sum().clamp(min=1.0)
    elif lt == "dr_grpo":
        loss = s.sum() / (B * MAX_LEN)
    elif lt == "dapo":
        loss = s.sum() / (NUM_ITEMS / NUM_PROCESSES)
    else:
        raise ValueError(lt)
    loss.backward()

    def batch_mean(x):
        return x.mean() if x.shape[1] == 1 else (x * M).sum() / M.sum().clamp(min=1.0)

    low = (r_main < 1 - o["epsilonLow"]) & (A < 0)
    high = (r_main > 1 + o["epsilonHigh"]) & (A > 0)
    metrics = {
        "clip_ratio/low_mean": batch_mean(low.double()).item(),
        "clip_ratio/high_mean": batch_mean(high.double()).item(),
        "clip_ratio/region_mean": batch_mean((low | high).double()).item(),
    }
    if o["beta"] != 0:
        metrics["kl"] = batch_mean(kl.detach()).item()
    return loss.item(), r9(lp.grad), metrics


loss_cases = []
for lt, level, beta, (el, eh), delta in itertools.product(
    ("grpo", "bnpo", "dr_grpo", "dapo"), ("token", "sequence"), (0.0, 0.04), ((0.2, 0.2), (0.2, 0.28)), (None, 1.3)
):
    o = {"lossType": lt, "importanceSamplingLevel": level, "beta": beta, "epsilonLow": el, "epsilonHigh": eh, "delta": delta}
    loss, grad, metrics = grpo_loss(o)
    loss_cases.append({"options": o, "loss": loss, "gradPerTokenLogps": grad, "metrics": metrics})

# The fixture must exercise every clip branch at both levels: assert some case has each metric > 0.
for level in ("token", "sequence"):
    for name in ("clip_ratio/low_mean", "clip_ratio/high_mean"):
        assert any(c["metrics"][name] > 0 for c in loss_cases if c["options"]["importanceSamplingLevel"] == level), (level, name)
# delta must change some gradient
assert any(a["gradPerTokenLogps"] != b["gradPerTokenLogps"] for a, b in zip(loss_cases[0::2], loss_cases[1::2]))

# ---------------------------------------------------------------- REINFORCE++
scores = f32([1.5, -0.5, 0.25, 2.0])
KL_COEF, GAMMA = 0.1, 0.9


def reinforce_pp(gamma):
    M = torch.tensor(mask)
    kl = (torch.tensor(logp) - torch.tensor(ref)) * M  # k1
    reward = -KL_COEF * kl
    for b, n in enumerate(lengths):
        reward[b, n - 1] += scores[b]
    returns = torch.zeros_like(reward)
    running = torch.zeros(B)
    for t in reversed(range(T)):
        running = reward[:, t] * M[:, t] + gamma * running
        returns[:, t] = running
    returns = returns * M
    count = M.sum()
    mean = (returns * M).sum() / count
    var = ((returns - mean) ** 2 * M).sum() / count
    adv = (returns - mean) * var.clamp(min=1e-8).rsqrt() * M
    return returns, adv


reinforce_cases = []
for gamma in (1.0, GAMMA):
    ret, a = reinforce_pp(gamma)
    reinforce_cases.append({"gamma": gamma, "returns": r9(ret), "advantages": r9(a)})

out = {
    "notes": "see tools/golden/grpo_losses.py",
    "groupAdvantages": {"numGenerations": G, "rewards": r9(rewards), "cases": advantage_cases},
    "rloo": {"numGenerations": G, "rewards": r9(rewards), "cases": rloo_cases},
    "grpoLoss": {
        "inputs": {"perTokenLogps": r9(logp), "oldPerTokenLogps": r9(old), "refPerTokenLogps": r9(ref), "advantages": r9(adv), "mask": r9(mask)},
        "maxCompletionLength": MAX_LEN, "numItemsInBatch": NUM_ITEMS, "worldSize": NUM_PROCESSES,
        "cases": loss_cases,
    },
    "reinforcePlusPlus": {"scores": r9(scores), "klCoef": KL_COEF, "cases": reinforce_cases},
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "ppo", "test", "fixtures", "grpo_losses.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}: {len(loss_cases)} loss cases")
for c in loss_cases[:4]:
    print(c["options"], c["loss"], c["metrics"])
