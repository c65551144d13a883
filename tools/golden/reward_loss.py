"""Independent reference numbers for @rlhfjs/reward's pairwise reward loss.

Written from the formula (Bradley-Terry pairwise loss as in InstructGPT, with TRL's optional margin and the reward
centering term of Eisenstein et al. 2023), not from library code:

    loss = mean(-log sigmoid(r_c - r_r - margin)) + c * mean((r_c + r_r)^2)

Gradients with respect to r_c and r_r come from torch autograd (float64).
Run:  /usr/bin/python3 tools/golden/reward_loss.py > packages/reward/test/fixtures/reward_loss.json
"""
import json

import torch

torch.manual_seed(1234)


def case(name, chosen, rejected, margin=None, center=None):
    c = torch.tensor(chosen, dtype=torch.float64, requires_grad=True)
    r = torch.tensor(rejected, dtype=torch.float64, requires_grad=True)
    x = c - r
    if margin is not None:
        x = x - torch.tensor(margin, dtype=torch.float64)
    # -log sigmoid(x) written out: log(1 + exp(-x)), evaluated stably as logaddexp(0, -x)
    loss = torch.logaddexp(torch.zeros_like(x), -x).mean()
    if center is not None:
        loss = loss + center * ((c + r) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        diff = c - r
        out = {
            "name": name,
            "chosen": chosen,
            "rejected": rejected,
            "margin": margin,
            "center": center,
            "loss": loss.item(),
            "grad_chosen": c.grad.tolist(),
            "grad_rejected": r.grad.tolist(),
            "accuracy": (diff > 0).double().mean().item(),
            "mean_margin": diff.mean().item(),
            "mean_chosen": c.mean().item(),
            "mean_rejected": r.mean().item(),
        }
    return out


def rounded(values):
    return [round(v, 6) for v in values]


cases = []
for batch in (1, 4, 9):
    chosen = rounded((torch.randn(batch) * 1.5).tolist())
    rejected = rounded((torch.randn(batch) * 1.5).tolist())
    margin = rounded(torch.rand(batch).tolist())
    cases.append(case(f"plain_b{batch}", chosen, rejected))
    cases.append(case(f"margin_b{batch}", chosen, rejected, margin=margin))
    cases.append(case(f"center_b{batch}", chosen, rejected, center=0.01))
    cases.append(case(f"margin_center_b{batch}", chosen, rejected, margin=margin, center=0.5))
cases.append(case("large_values", [60.0, -80.0, 0.5, 120.0], [-60.0, 40.0, 0.5, -10.0]))
cases.append(case("ties", [0.25, -1.0, 3.0], [0.25, -1.0, 2.0]))

print(json.dumps({"source": "tools/golden/reward_loss.py", "torch": torch.__version__, "cases": cases}, indent=1))
