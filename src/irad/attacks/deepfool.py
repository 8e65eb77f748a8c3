"""DeepFool (Moosavi-Dezfooli et al. 2016), batched.

The algorithm of torchattacks' ``DeepFool`` (each step: linearise the classifier, move to the nearest linearised
decision boundary with an overshoot, clip to [0, 1]; stop per image once it is misclassified), run on the whole
batch at once; torchattacks loops over the images one at a time, 5-10x slower on CPU. With ``candidates`` at
least the number of classes it is the same computation; fewer restrict the boundaries to the classes with the
highest initial logits (the DeepFool paper's choice for ImageNet, where a full Jacobian does not fit).
"""

from __future__ import annotations

import torch
from torch import nn


class DeepFool:
    """``DeepFool(model, steps, overshoot, candidates)(x, y) -> x_adv``, minimal L2 perturbations in [0, 1]."""

    def __init__(self, model: nn.Module, steps: int = 50, overshoot: float = 0.02, candidates: int = 10):
        self.model, self.steps, self.overshoot, self.candidates = model, steps, overshoot, candidates

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        adv = x.clone().detach()
        with torch.no_grad():
            logits = self.model(adv)
        classes = logits.argsort(1, descending=True)[:, : self.candidates]  # column 0: the prediction
        active = logits.argmax(1) == y
        for _ in range(self.steps):
            idx = active.nonzero()[:, 0]
            if len(idx) == 0:
                break
            xa = adv[idx].clone().requires_grad_(True)
            f = self.model(xa).gather(1, classes[idx])  # (b, candidates) logits of the candidate classes
            fooled = f.argmax(1) != 0
            active[idx[fooled]] = False
            if bool(fooled.all()):
                break
            grads = torch.stack([torch.autograd.grad(f[:, k].sum(), xa, retain_graph=k + 1 < f.shape[1])[0]
                                 for k in range(f.shape[1])], 1)  # (b, candidates, C, H, W)
            keep = ~fooled
            f, grads, xa = f[keep].detach(), grads[keep], xa[keep].detach()
            df = f[:, 1:] - f[:, :1]  # candidate 0 is the (still) true class
            dw = grads[:, 1:] - grads[:, :1]
            norms = dw.flatten(2).norm(dim=2)
            best = (df.abs() / norms).argmin(1)
            rows = torch.arange(len(best), device=x.device)
            scale = (df.abs()[rows, best] / norms[rows, best].square()).view(-1, *[1] * (x.dim() - 1))
            adv[idx[keep]] = (xa + (1 + self.overshoot) * scale * dw[rows, best]).clamp(0, 1)
        return adv
