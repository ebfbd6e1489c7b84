"""One training job: a task, a backbone, a λ schedule (with its warm-up epochs), an objective, a
threshold and a seed (docs/method.md §7).

Resumable: the full state is checkpointed atomically after every epoch, and a rerun of
the same job continues from it (a run folder from a different configuration is refused).
Deterministic on the CPU for a given seed, including across a resume.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write_text, save_torch
from ..checkpoint import CheckpointError, load_checkpoint
from ..device import gpu_slot
from .inference import build_model, channels_last, predict_proba
from .run import RunSpec
from .splitdata import SplitData
from .step import Steps, StepSettings, fits_on, optimizer, resident

if TYPE_CHECKING:
    import pandas as pd


EPOCH_SEEDS = 100_003  # a prime above any epoch count: each (seed, epoch) shuffles from a seed of its own

class Preempted(Exception):
    """Raised between batches after SIGTERM; the last epoch's checkpoint is already on disk."""


def _install_sigterm() -> dict:
    flag = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: flag.update(stop=True))
    return flag


STATE_KEYS = ("fingerprint", "epoch", "model", "optimizer", "scheduler", "history", "best", "since_best", "rng")
# A finished run's model and what its evaluations wrote beside it: a retraining removes them as it starts,
# so that a killed retraining leaves no old model or result standing (a plain rerun trains and evaluates).
PREVIOUS = ("model.pt", "history.csv", "metrics.json", "cams.npz", "external")


def _unfinished_state(path: Path, fingerprint: str) -> dict | None:
    """The unfinished state of this very run, to resume; a state of any other settings or inputs
    is moved aside (``state.<its fingerprint>.pt``) with a notice, and training starts afresh."""
    if not path.exists():
        return None
    state = load_checkpoint(path, "training state")
    if state.get("fingerprint") == fingerprint:
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise CheckpointError(f"{path} is no training state (it lacks {', '.join(missing)}; a finished model.pt "
                                  "copied there?): delete it to train from scratch")
        return state
    aside = path.with_name(f"state.{state.get('fingerprint', 'unknown')}.pt")
    os.replace(path, aside)
    tqdm.write(f"{path} is of other settings or inputs (fingerprint {state.get('fingerprint')} ≠ {fingerprint}): "
               f"moved aside to {aside.name}, training from scratch")
    return None


def _epoch(steps: Steps, n: int, spec: RunSpec, lam: float, epoch: int, flag: dict) -> dict:
    steps.model.train()
    gen = torch.Generator().manual_seed(spec.seed * EPOCH_SEEDS + epoch)
    order = torch.randperm(n, generator=gen)
    for idx in tqdm(steps.epoch_order(order), desc=f"epoch {epoch}", unit="batch", leave=False, disable=None):
        if flag["stop"]:
            raise Preempted
        steps(idx, lam)
    return steps.read(n)


def _val(model, data: SplitData, device) -> tuple[float, float]:
    p = predict_proba(model, data, device)
    y = data.labels.cpu().numpy()
    loss = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
    return loss, float((p.argmax(1) == y).mean())


def train(spec: RunSpec, train_data: SplitData, val_data: SplitData, out: Path, inputs: dict[str, str]) -> pd.DataFrame:
    """Train and write ``model.pt`` (best val accuracy once the objective applies, see
    ``_unwarmed``) and ``history.csv`` into ``out``.

    ``out/state.pt`` holds the resumable state after every epoch, until the run finishes;
    ``inputs`` is the identity of the data (``data.input_identity``), part of the fingerprint.
    """
    remove_previous(out)
    with gpu_slot(spec.train.device) as device:
        tqdm.write(f"device {device}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}")
        return _train(spec, train_data, val_data, out, device, spec.fingerprint(inputs))


def remove_previous(out: Path) -> None:
    """Remove the model this run is about to replace, and its evaluations."""
    for name in PREVIOUS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


NO_BEST = {"acc": -1.0, "epoch": -1, "weights": None}


def _unwarmed(spec: RunSpec, epoch: int) -> bool:
    """The first epoch of the objective after a warm-up: the best model so far is forgotten, so a
    warm-up epoch (plain cross-entropy, which a shortcut in the validation set favours) is only
    ever the model of a run that never gets past its warm-up."""
    return 0 < spec.schedule.warmup == epoch


def _train(spec: RunSpec, train_data: SplitData, val_data: SplitData, out: Path, device: torch.device,
           fingerprint: str) -> pd.DataFrame:
    torch.set_num_threads(spec.train.threads)
    torch.manual_seed(spec.seed)
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    model, layer = build_model(spec, device)
    graph = device.type == "cuda" and spec.train.cuda_graph and fits_on(train_data, device) and fits_on(val_data, device)
    if graph:
        train_data, val_data = resident(train_data, device), resident(val_data, device)
    tqdm.write(f"training step: {'CUDA graph, data resident on the GPU' if graph else 'eager'}")
    opt = optimizer(model.parameters(), spec.train.lr, device, graph)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=spec.train.lr_factor,
                                                       patience=spec.train.lr_patience, min_lr=spec.train.min_lr)
    state_path = out / "state.pt"
    state = _unfinished_state(state_path, fingerprint)
    history, best, since_best, start = [], NO_BEST, 0, 0
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best, since_best, start = state["history"], state["best"], state["since_best"], state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        tqdm.write(f"resuming {out} from epoch {start}")
    flag = _install_sigterm()
    steps = Steps(model, layer, opt, StepSettings.of(spec, graph, channels_last(spec.train, device)), train_data, device)
    for epoch in range(start, spec.train.epochs):
        if _unwarmed(spec, epoch):
            best, since_best = NO_BEST, 0
        if epoch >= spec.schedule.warmup and since_best >= spec.train.early_stop:  # never stopped before the objective
            break
        lam = spec.schedule.at(epoch)
        tic = time.time()
        row = _epoch(steps, len(train_data), spec, lam, epoch, flag)
        val_loss, val_acc = _val(model, val_data, device)
        sched.step(val_loss)
        row.update(epoch=epoch, val_loss=val_loss, val_acc=val_acc, lr=float(opt.param_groups[0]["lr"]), lam=lam,
                   seconds=time.time() - tic, images_per_s=len(train_data) / (time.time() - tic))
        history.append(row)
        if val_acc > best["acc"]:
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best = {"acc": val_acc, "epoch": epoch, "weights": weights}
            since_best = 0 if spec.train.reset_early_stop else since_best
        else:
            since_best += 1
        tqdm.write(f"epoch {epoch}: loss {row['loss']:.4f} (ce {row['ce']:.4f}, att {row['att']:.4f}) "
                   f"acc {row['acc']:.3f} val_acc {val_acc:.3f} λ {lam:.3f} {row['images_per_s']:.0f} img/s")
        save_torch({"fingerprint": fingerprint, "epoch": epoch, "model": model.state_dict(),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "history": history,
                    "best": best, "since_best": since_best, "rng": torch.get_rng_state()}, state_path)
    save_torch({"state_dict": best["weights"], "spec": asdict(spec), "best_epoch": best["epoch"],
                "fingerprint": fingerprint, "image_size": int(train_data.images.shape[-1])}, out / "model.pt")
    import pandas as pd

    hist = pd.DataFrame(history)
    atomic_write_text(out / "history.csv", hist.to_csv(index=False))
    for state in (state_path, *out.glob("state.*.pt")):  # finished: a rerun trains afresh, never "resumes" a
        state.unlink(missing_ok=True)  # done run; and states moved aside by this run are not kept
    return hist

