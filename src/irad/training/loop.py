"""A small resumable epoch loop shared by the implicit-representation and SampleNet trainers."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from irad.training.state import load_state, save_state
from irad.utils.checkpoint import atomic_write_json
from irad.utils.validation import check_choice

StepFn = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, dict[str, float]]]


SCHEDULES = ("constant", "cosine")


def fit(model: nn.Module, params: list[nn.Parameter], step: StepFn, size: int, config: dict, out: Path, *,
        epochs: int, batch_size: int, lr: float, betas: tuple[float, float], seed: int,
        save: Callable[[], None], progress: bool = True, after_step: Callable[[], None] | None = None,
        schedule: str = "constant", validate: Callable[[], dict[str, float]] | None = None,
        select: str | None = None, save_best: Callable[[], None] | None = None,
        snapshot: Callable[[int], None] | None = None, patience: int | None = None) -> list[dict]:
    """Adam over ``params`` for ``epochs`` passes of ``size`` items in random batches of ``batch_size``.

    ``step(indices, generator)`` returns the loss and metrics of one batch. After every epoch the state goes to
    ``out/last.pt`` (resumed from on the next call with the same ``config``), ``save()`` writes the model, and
    ``out/metrics.json`` gets the per-epoch means, the epoch's wall and process CPU seconds and the CPU hours so
    far. ``after_step()`` runs after every optimizer step (e.g. an EMA). ``schedule="cosine"`` decays the learning
    rate from ``lr`` to 0 over all steps. ``validate()`` (called in eval mode) adds held-out metrics to each epoch's
    record; ``save_best()`` runs whenever the record's ``select`` value is the highest so far; ``snapshot(epoch)``
    (optional) keeps a copy of every epoch's model. ``patience``: stop early once ``select`` has not improved for
    that many epochs (``epochs`` is then the most that run; the cosine schedule still spans all of them).
    """
    check_choice("schedule", schedule, SCHEDULES)
    out.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.Adam(params, lr=lr, betas=betas)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    state = load_state(out / "last.pt", config)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        history = json.loads(state["history"])
    steps = math.ceil(size / batch_size)
    for epoch in range(len(history), epochs):
        if plateaued(history, select, patience):
            best = max(history, key=lambda h: h.get(select, -math.inf))["epoch"]
            print(f"stopping early: validation {select} has not improved for {patience} epochs "
                  f"(best: epoch {best})", flush=True)
            atomic_write_json(out / "metrics.json", {"config": config, "history": history,
                                                     "stopped_early": {"select": select, "patience": patience,
                                                                       "best_epoch": best}})
            break
        model.train()
        perm = torch.randperm(size, generator=gen)
        sums: dict[str, float] = {}
        t0, c0 = time.time(), time.process_time()
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for s in bar:
            if schedule == "cosine":  # computed from the step (not an LR scheduler): resuming needs no state
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (epoch * steps + s) / (epochs * steps)))
            idx = perm[s * batch_size:(s + 1) * batch_size]
            loss, metrics = step(idx, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            for k, v in {"loss": loss.item(), **metrics}.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            bar.set_postfix(loss=f"{sums['loss'] / min(size, (s + 1) * batch_size):.4f}")
        record = {"epoch": epoch + 1, **{k: v / size for k, v in sums.items()}, "seconds": round(time.time() - t0, 1)}
        model.eval()
        if validate is not None:
            with torch.no_grad():
                record.update(validate())
        cpu = time.process_time() - c0
        record["cpu_seconds"] = round(cpu, 1)
        before = history[-1] if history else {}
        record["cpu_hours"] = round(before.get("cpu_hours", 0.0) + cpu / 3600, 6)
        record["wall_hours"] = round(before.get("wall_hours", 0.0) + (time.time() - t0) / 3600, 6)
        is_best = select is not None and all(record[select] > h.get(select, -math.inf) for h in history)
        history.append(record)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True)
        save()
        if snapshot is not None:
            snapshot(epoch + 1)
        if is_best and save_best is not None:
            save_best()
        save_state(out / "last.pt", {"config": config, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "generator": gen.get_state(), "history": json.dumps(history)})
        atomic_write_json(out / "metrics.json", {"config": config, "history": history})
    model.eval()
    return history


def plateaued(history: list[dict], select: str | None, patience: int | None) -> bool:
    """Whether the last ``patience`` epochs of ``history`` all fell short of the best ``select`` value before them."""
    if not (select and patience) or len(history) <= patience:
        return False
    values = [h.get(select, -math.inf) for h in history]
    return max(values[-patience:]) <= max(values[:-patience])
