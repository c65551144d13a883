"""Reference goldens for @rlhfjs/ppo's pure pieces.

Independent PyTorch (float64) written from the published formulas: Schulman's KL estimators k1/k2/k3, the
token-level RLHF reward (Ziegler et al. 2019; score on the last real response token, missing-EOS penalty then
clipping), GAE (Schulman et al. 2016), masked whitening with unbiased variance, the PPO clipped surrogate with
dual clip (Ye et al. 2020), the clipped value loss, categorical entropy, and the adaptive KL controller.
Writes packages/ppo/test/fixtures/ppo_pieces.json.

Run: /usr/bin/python3 tools/golden/ppo_pieces.py
"""
import json
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(7)


def f32(a):
    """Round to float32 so that the TypeScript side reads exactly the same inputs."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


B, T, V = 3, 5, 4
lengths = [5, 3, 4]
mask = np.zeros((B, T))
for b, n in enumerate(lengths):
    mask[b, :n] = 1.0
logprobs = f32(-rng.uniform(0.1, 3.0, size=(B, T)))
ref_logprobs = f32(logprobs + rng.normal(0, 0.4, size=(B, T)))
scores = f32(rng.normal(0.5, 1.2, size=B))
values = f32(rng.normal(0, 0.5, size=(B, T)))

M = torch.tensor(mask)


def kl(lp, ref, est):
    r = lp - ref
    if est == "k1":
        return r
    if est == "k2":
        return r * r / 2
    if est == "k3":
        return torch.exp(-r) - 1 + r
    raise ValueError(est)


LP, REF = torch.tensor(logprobs), torch.tensor(ref_logprobs)
kl_out = {est: kl(LP, REF, est).tolist() for est in ("k1", "k2", "k3")}


def per_token_rewards(opt):
    k = kl(LP, REF, opt["estimator"]) * M
    non_score = -opt["klCoef"] * k
    rewards = non_score.clone()
    final = []
    for b in range(B):
        s = float(scores[b])
        if opt.get("missingEosPenalty") is not None and not opt["hasEos"][b]:
            s -= opt["missingEosPenalty"]
        if opt.get("scoreClip") is not None:
            s = max(-opt["scoreClip"], min(opt["scoreClip"], s))
        final.append(s)
        last = int(np.nonzero(mask[b])[0][-1])
        rewards[b, last] += s
    return {
        "options": opt,
        "rewards": rewards.tolist(),
        "kl": k.tolist(),
        "nonScoreReward": float(non_score.sum(1).mean()),
        "finalScores": final,
    }


reward_cases = [
    per_token_rewards({"klCoef": 0.05, "estimator": "k1"}),
    per_token_rewards({"klCoef": 0.1, "estimator": "k3", "scoreClip": 1.0, "missingEosPenalty": 0.5, "hasEos": [True, False, True]}),
    per_token_rewards({"klCoef": 0.2, "estimator": "k2", "missingEosPenalty": 1.0, "hasEos": [False, True, False]}),
]


def gae(rewards, vals, m, gamma, lam):
    r = rewards * m
    v = vals * m
    adv = torch.zeros_like(r)
    last = torch.zeros(r.shape[0])
    for t in reversed(range(r.shape[1])):
        nv = v[:, t + 1] if t < r.shape[1] - 1 else torch.zeros(r.shape[0])
        delta = r[:, t] + gamma * nv - v[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    ret = adv + v
    return (adv * m), (ret * m)


gae_rewards = torch.tensor(f32(reward_cases[0]["rewards"]))
gae_cases = []
for gamma, lam in ((1.0, 0.95), (0.9, 0.8)):
    a, r = gae(gae_rewards, torch.tensor(values), M, gamma, lam)
    gae_cases.append({"gamma": gamma, "lambda": lam, "advantages": a.tolist(), "returns": r.tolist()})

# Whitening: 4 rows so that the test can split it into two "ranks" of 2 rows.
wv = f32(rng.normal(1.5, 2.0, size=(4, T)))
wm = np.ones((4, T))
wm[1, 3:] = 0
wm[2, 2:] = 0
wm[3, 4:] = 0


def whiten(x, m, shift_mean):
    n = m.sum()
    mean = (x * m).sum() / n
    var = (((x - mean) ** 2) * m).sum() / n * (n / (n - 1))
    w = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        w = w + mean
    return w * m


WV, WM = torch.tensor(wv), torch.tensor(wm)
whiten_out = {
    "values": wv.tolist(),
    "mask": wm.tolist(),
    "shifted": whiten(WV, WM, True).tolist(),
    "unshifted": whiten(WV, WM, False).tolist(),
}

# Policy loss: some ratios far outside the clip range, some advantages negative.
old_logprobs = f32(logprobs + rng.choice([-1.5, -0.3, -0.05, 0.0, 0.1, 0.4, 1.4], size=(B, T)))
advantages = f32(rng.normal(0, 1.0, size=(B, T)))
logits = f32(rng.normal(0, 1.5, size=(B, T, V)))


def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def aggregate(x, m, mode):
    if mode == "token-mean":
        return masked_mean(x, m)
    return ((x * m).sum(1) / m.sum(1).clamp(min=1)).mean()


def entropy(lg, m):
    p = torch.softmax(lg, -1)
    h = -(p * torch.log_softmax(lg, -1)).sum(-1)
    return h * m


def policy_case(clip, dual, mode, entropy_coef=0.0):
    lp = torch.tensor(logprobs, requires_grad=True)
    old = torch.tensor(old_logprobs)
    A = torch.tensor(advantages)
    log_ratio = lp - old
    ratio = torch.exp(log_ratio)
    l1 = -A * ratio
    l2 = -A * torch.clamp(ratio, 1 - clip, 1 + clip)
    per = torch.where(l2 > l1, l2, l1)
    clipfrac = masked_mean((l2 > l1).double(), M)
    dual_frac = 0.0
    if dual is not None:
        bound = -dual * A
        dual_frac = float(masked_mean(((A < 0) & (per > bound)).double(), M))
        per = torch.where(A < 0, torch.where(per < bound, per, bound), per)
    loss = aggregate(per, M, mode)
    ent = aggregate(entropy(torch.tensor(logits), M), M, mode)
    if entropy_coef:
        loss = loss - entropy_coef * ent
    (g,) = torch.autograd.grad(loss, [lp])
    return {
        "options": {"clipRange": clip, "dualClip": dual, "aggregation": mode, "entropyCoef": entropy_coef},
        "loss": float(loss),
        "gradLogprobs": g.tolist(),
        "metrics": {
            "approxKl": float(0.5 * masked_mean(log_ratio.detach() ** 2, M)),
            "clipFrac": float(clipfrac),
            "dualClipFrac": dual_frac,
            "ratioMean": float(masked_mean(ratio.detach(), M)),
            "entropy": float(ent),
        },
    }


policy_cases = [
    policy_case(0.2, None, "token-mean"),
    policy_case(0.2, 3.0, "token-mean"),
    policy_case(0.1, 2.0, "sequence-mean", entropy_coef=0.01),
]

# Value loss
old_values = f32(values + rng.choice([-0.6, -0.1, 0.0, 0.15, 0.5], size=(B, T)))
returns = f32(np.array(gae_cases[0]["returns"]) + rng.normal(0, 0.2, size=(B, T)))


def value_case(c, mode):
    v = torch.tensor(values, requires_grad=True)
    old = torch.tensor(old_values)
    R = torch.tensor(returns)
    vc = torch.min(torch.max(v, old - c), old + c)
    e1 = (v - R) ** 2
    e2 = (vc - R) ** 2
    loss = 0.5 * aggregate(torch.where(e2 > e1, e2, e1), M, mode)
    (g,) = torch.autograd.grad(loss, [v])
    return {
        "options": {"clipRangeValue": c, "aggregation": mode},
        "loss": float(loss),
        "gradValues": g.tolist(),
        "metrics": {
            "clipFrac": float(masked_mean((e2 > e1).double(), M)),
            "valueMean": float(masked_mean(v.detach(), M)),
            "meanSquaredError": float(masked_mean(e1.detach(), M)),
        },
    }


value_cases = [value_case(0.2, "token-mean"), value_case(0.05, "sequence-mean")]

# Adaptive KL controller (Ziegler et al. 2019)
beta = 0.2
target, horizon, n_steps = 6.0, 10000, 256
kls = [3.0, 8.0, 6.5, 20.0, 0.5]
betas = []
for k in kls:
    e = min(max(k / target - 1, -0.2), 0.2)
    beta = beta * (1 + e * n_steps / horizon)
    betas.append(beta)

out = {
    "source": "tools/golden/ppo_pieces.py (PyTorch %s, float64)" % torch.__version__,
    "inputs": {
        "logprobs": logprobs.tolist(),
        "refLogprobs": ref_logprobs.tolist(),
        "mask": mask.tolist(),
        "scores": scores.tolist(),
        "values": values.tolist(),
        "oldLogprobs": old_logprobs.tolist(),
        "advantages": advantages.tolist(),
        "logits": logits.tolist(),
        "oldValues": old_values.tolist(),
        "returns": returns.tolist(),
        "gaeRewards": gae_rewards.tolist(),
    },
    "kl": kl_out,
    "entropy": entropy(torch.tensor(logits), M).tolist(),
    "perTokenRewards": reward_cases,
    "gae": gae_cases,
    "whiten": whiten_out,
    "policyLoss": policy_cases,
    "valueLoss": value_cases,
    "adaptiveKl": {"initKlCoef": 0.2, "target": target, "horizon": horizon, "nSteps": n_steps, "kls": kls, "values": betas},
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "ppo", "test", "fixtures", "ppo_pieces.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
