"""Reference goldens for @rlhfjs/dpo's loss family.

Independent PyTorch (float64) written from the published formulas, as TRL codes them (DPOTrainer.dpo_loss of the
0.13-0.19 line, TRL 1.7's sigmoid_norm, CPOTrainer's simpo, ORPOTrainer's odds_ratio_loss). Writes
packages/dpo/test/fixtures/dpo_losses.json: inputs, per-pair losses, mean loss, implicit rewards, TRL metrics and
the gradient of the mean loss with respect to the policy log-probs.

Run: /usr/bin/python3 tools/golden/dpo_losses.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

rng = np.random.default_rng(20240611)
B = 6
# Summed log-probs (float32-representable so the TypeScript side sees exactly these inputs).
chosen_lengths = rng.integers(3, 13, size=B).astype(np.float64)
rejected_lengths = rng.integers(3, 13, size=B).astype(np.float64)
ref_chosen = (chosen_lengths * rng.uniform(-2.5, -0.5, size=B)).astype(np.float32).astype(np.float64)
ref_rejected = (rejected_lengths * rng.uniform(-2.5, -0.5, size=B)).astype(np.float32).astype(np.float64)
# Policy moves away from the reference by a few nats, both ways, so that losses are on both sides of active regions.
# Log-probs stay below -0.1 nat per token (valid probabilities; ORPO needs average log-probs < 0).
policy_chosen = np.minimum(ref_chosen + rng.uniform(-6.0, 8.0, size=B), -0.1 * chosen_lengths)
policy_chosen = policy_chosen.astype(np.float32).astype(np.float64)
policy_rejected = np.minimum(ref_rejected + rng.uniform(-8.0, 6.0, size=B), -0.1 * rejected_lengths)
policy_rejected = policy_rejected.astype(np.float32).astype(np.float64)
chosen_nll = (-(policy_chosen / chosen_lengths)).astype(np.float32).astype(np.float64)

INPUTS = {
    "policyChosenLogps": policy_chosen.tolist(),
    "policyRejectedLogps": policy_rejected.tolist(),
    "referenceChosenLogps": ref_chosen.tolist(),
    "referenceRejectedLogps": ref_rejected.tolist(),
    "chosenLengths": chosen_lengths.tolist(),
    "rejectedLengths": rejected_lengths.tolist(),
    "chosenNll": chosen_nll.tolist(),
}


def logsig(x):
    return F.logsigmoid(x)


def sig_ls(x, eps):
    """Conservative (cDPO) sigmoid loss on an already beta-scaled margin x."""
    return -logsig(x) * (1 - eps) - logsig(-x) * eps


def term_losses(kind, pc, pr, rc, rr, lc, lr, nll, opt, bco_delta):
    beta = opt["beta"]
    eps = opt.get("labelSmoothing", 0.0)
    lrc = pc - rc  # log pi/pi_ref on chosen
    lrr = pr - rr
    margin = lrc - lrr
    if kind == "sigmoid":
        return sig_ls(beta * margin, eps)
    if kind == "robust":
        return (-logsig(beta * margin) * (1 - eps) + logsig(-beta * margin) * eps) / (1 - 2 * eps)
    if kind == "exo_pair":
        e = eps if eps != 0 else 1e-3
        z = beta * margin
        return torch.sigmoid(z) * (logsig(z) - math.log(1 - e)) + torch.sigmoid(-z) * (logsig(-z) - math.log(e))
    if kind == "hinge":
        return torch.clamp(1 - beta * margin, min=0)
    if kind == "ipo":
        m = (pc / lc - pr / lr) - (rc / lc - rr / lr)
        return (m - 1 / (2 * beta)) ** 2
    if kind == "bco_pair":
        return -logsig(beta * lrc - bco_delta) - logsig(-(beta * lrr - bco_delta))
    if kind == "sppo_hard":
        return (lrc - 1 / (2 * beta)) ** 2 + (lrr + 1 / (2 * beta)) ** 2
    if kind == "nca_pair":
        a, b = beta * lrc, beta * lrr
        return -logsig(a) - 0.5 * logsig(-a) - 0.5 * logsig(-b)
    if kind == "aot_pair":
        d = torch.sort(lrc).values - torch.sort(lrr).values
        return sig_ls(beta * d, eps)
    if kind == "aot":
        d = torch.sort(pc - pr).values - torch.sort(rc - rr).values
        return sig_ls(beta * d, eps)
    if kind == "apo_zero":
        return (1 - torch.sigmoid(beta * lrc)) + torch.sigmoid(beta * lrr)
    if kind == "apo_down":
        return torch.sigmoid(beta * lrc) + (1 - torch.sigmoid(beta * margin))
    if kind == "discopop":
        tau = opt.get("discopopTau", 0.05)
        z = beta * margin
        w = torch.sigmoid(z / tau)
        return -logsig(z) * (1 - w) + torch.exp(-z) * w
    if kind == "sigmoid_norm":
        return -logsig(beta * (lrc / lc - lrr / lr))
    if kind == "simpo":
        gamma = opt.get("simpoGamma", 0.5)
        return sig_ls(beta * (pc / lc - pr / lr) - gamma, eps)
    if kind == "orpo":
        lam = opt.get("orpoLambda", 0.1)
        ac, ar = pc / lc, pr / lr
        # log odds p/(1-p) with log p = average log-prob
        log_odds = (ac - torch.log(-torch.expm1(ac))) - (ar - torch.log(-torch.expm1(ar)))
        return nll - lam * logsig(log_odds)
    raise ValueError(kind)


def run_case(name, opt):
    terms = opt["lossType"]
    if isinstance(terms, str):
        terms = [{"type": terms, "weight": 1.0}]
    beta = opt["beta"]
    ref_free = opt.get("referenceFree", False)
    pc = torch.tensor(policy_chosen, requires_grad=True)
    pr = torch.tensor(policy_rejected, requires_grad=True)
    rc = torch.zeros(B) if ref_free else torch.tensor(ref_chosen)
    rr = torch.zeros(B) if ref_free else torch.tensor(ref_rejected)
    lc, lr = torch.tensor(chosen_lengths), torch.tensor(rejected_lengths)
    nll = torch.tensor(chosen_nll)
    # bco delta: batch mean of beta*logratios of chosen and rejected, detached (first step of TRL's running mean)
    if "bcoRewardMean" in opt:
        delta = opt["bcoRewardMean"]
    else:
        delta = float(torch.cat([beta * (pc - rc), beta * (pr - rr)]).mean().detach())
    total = torch.zeros(B)
    for t in terms:
        total = total + t.get("weight", 1.0) * term_losses(t["type"], pc, pr, rc, rr, lc, lr, nll, opt, delta)
    if opt.get("rpoAlpha") is not None:
        total = total + opt["rpoAlpha"] * nll
    loss = total.mean()
    g_c, g_r = torch.autograd.grad(loss, [pc, pr])

    first = terms[0]["type"]
    with torch.no_grad():
        if first == "ipo":
            vc, vr = pc / lc, pr / lr
            wc, wr = rc / lc, rr / lr
        elif first in ("simpo", "orpo"):
            vc, vr = pc / lc, pr / lr
            wc, wr = torch.zeros(B), torch.zeros(B)
        else:
            vc, vr, wc, wr = pc, pr, rc, rr
        chosen_rewards = beta * (vc - wc)
        rejected_rewards = beta * (vr - wr)
    metrics = {
        "rewards/chosen": float(chosen_rewards.mean()),
        "rewards/rejected": float(rejected_rewards.mean()),
        "rewards/accuracies": float((chosen_rewards > rejected_rewards).double().mean()),
        "rewards/margins": float((chosen_rewards - rejected_rewards).mean()),
        "logps/chosen": float(vc.mean()),
        "logps/rejected": float(vr.mean()),
    }
    return {
        "name": name,
        "options": opt,
        "losses": total.detach().tolist(),
        "loss": float(loss),
        "chosenRewards": chosen_rewards.tolist(),
        "rejectedRewards": rejected_rewards.tolist(),
        "metrics": metrics,
        "gradPolicyChosen": g_c.tolist(),
        "gradPolicyRejected": g_r.tolist(),
    }


CASES = [
    ("sigmoid", {"lossType": "sigmoid", "beta": 0.1}),
    ("sigmoid label smoothing", {"lossType": "sigmoid", "beta": 0.5, "labelSmoothing": 0.1}),
    ("sigmoid reference free", {"lossType": "sigmoid", "beta": 0.1, "referenceFree": True}),
    ("sigmoid + rpo", {"lossType": "sigmoid", "beta": 0.1, "rpoAlpha": 1.0}),
    ("hinge", {"lossType": "hinge", "beta": 0.5}),
    ("ipo", {"lossType": "ipo", "beta": 0.1}),
    ("robust", {"lossType": "robust", "beta": 0.1, "labelSmoothing": 0.2}),
    ("exo_pair default epsilon", {"lossType": "exo_pair", "beta": 0.1}),
    ("exo_pair", {"lossType": "exo_pair", "beta": 0.3, "labelSmoothing": 0.1}),
    ("nca_pair", {"lossType": "nca_pair", "beta": 0.1}),
    ("bco_pair batch mean", {"lossType": "bco_pair", "beta": 0.1}),
    ("bco_pair given mean", {"lossType": "bco_pair", "beta": 0.1, "bcoRewardMean": 0.05}),
    ("sppo_hard", {"lossType": "sppo_hard", "beta": 0.1}),
    ("aot", {"lossType": "aot", "beta": 0.1, "labelSmoothing": 0.05}),
    ("aot_pair", {"lossType": "aot_pair", "beta": 0.1}),
    ("apo_zero", {"lossType": "apo_zero", "beta": 0.1}),
    ("apo_down", {"lossType": "apo_down", "beta": 0.1}),
    ("discopop", {"lossType": "discopop", "beta": 0.1, "discopopTau": 0.05}),
    ("sigmoid_norm", {"lossType": "sigmoid_norm", "beta": 2.0}),
    ("simpo", {"lossType": "simpo", "beta": 2.0, "simpoGamma": 0.5}),
    ("simpo label smoothing", {"lossType": "simpo", "beta": 2.0, "simpoGamma": 1.0, "labelSmoothing": 0.1}),
    ("orpo", {"lossType": "orpo", "beta": 0.1, "orpoLambda": 0.1}),
    ("weighted sigmoid + bco_pair (MPO)", {"lossType": [{"type": "sigmoid", "weight": 0.8}, {"type": "bco_pair", "weight": 0.2}], "beta": 0.1}),
]

out = {
    "source": "tools/golden/dpo_losses.py (PyTorch %s, float64)" % torch.__version__,
    "inputs": INPUTS,
    "cases": [run_case(name, opt) for name, opt in CASES],
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "dpo", "test", "fixtures", "dpo_losses.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
