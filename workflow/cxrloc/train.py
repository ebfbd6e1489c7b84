"""One training job: a backbone, a task, λ, a threshold and a seed (METHOD.md §7).

Resumable: the full state is checkpointed atomically after every epoch, and a rerun of
the same job continues from it (a run folder from a different configuration is refused).
Deterministic on the CPU for a given seed, including across a resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .attention import ADAPTIVE, AttentionConfig, lambda_at, objective
from .cam import capture
from .data import SplitData, normalize
from .device import gpu_slot
from .io import atomic_path, atomic_write_text
from .models import canonical, create
from .regions import kinds_for, target_regions
from .tasks import classes


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-5
    lr_factor: float = 0.1
    lr_patience: int = 10
    min_lr: float = 1e-10
    early_stop: int = 30
    reset_early_stop: bool = True
    warmup_epochs: int = 0
    pretrained: bool = False
    cam_layer: str | dict[str, str] | None = None  # one layer for every backbone, or one per backbone
    device: str = "cpu"
    threads: int = 1
    weights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    task: str
    backbone: str
    lam: float | str
    thresh: float
    seed: int
    train: TrainConfig = TrainConfig()
    attention: AttentionConfig = AttentionConfig()

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


class CheckpointError(RuntimeError):
    pass


class Preempted(Exception):
    """Raised between batches after SIGTERM; the last epoch's checkpoint is already on disk."""


def _install_sigterm() -> dict:
    flag = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: flag.update(stop=True))
    return flag


def _load_state(path: Path, spec: RunSpec) -> dict | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise CheckpointError(f"corrupt checkpoint {path}: {e}; delete it to start the run afresh") from e
    if state.get("fingerprint") != spec.fingerprint():
        raise CheckpointError(
            f"{path} belongs to a different configuration (fingerprint {state.get('fingerprint')} ≠ "
            f"{spec.fingerprint()}); not resuming it silently: delete it to start afresh"
        )
    return state


def _epoch(model, layer, data: SplitData, spec: RunSpec, lam, opt, epoch, device, flag) -> dict:
    model.train()
    gen = torch.Generator().manual_seed(spec.seed * 100_003 + epoch)
    order = torch.randperm(len(data), generator=gen)
    kinds = kinds_for(spec.task).to(device)
    totals = torch.zeros(4, device=device)  # loss, ce, att (each × n), correct
    fractions = []
    amp = device.type == "cuda"
    bar = tqdm(order.split(spec.train.batch_size), desc=f"epoch {epoch}", unit="batch", leave=False, disable=None)
    for idx in bar:
        if flag["stop"]:
            raise Preempted
        x = normalize(data.images[idx].to(device, non_blocking=True))
        if amp:
            x = x.contiguous(memory_format=torch.channels_last)
        if spec.attention.mode == "rrr" and lam < 1:
            x.requires_grad_(True)
        y = data.labels[idx].to(device, non_blocking=True)
        boxes = data.boxes[idx].to(device, non_blocking=True)
        lung_masks = data.lung_masks[idx].to(device, non_blocking=True) if spec.attention.region == "mask" else None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp), capture(layer) as seen:
            logits = model(x)
        parts = objective(logits.float(), seen[-1] if lam < 1 else None, y,
                          lambda labels: target_regions(spec.attention.region, boxes, kinds[labels], x.shape[-1],
                                                        lung_masks),
                          lam, spec.thresh, spec.attention, inputs=x)
        opt.zero_grad(set_to_none=True)
        parts.loss.backward()
        opt.step()
        n = len(idx)
        totals += torch.stack([parts.loss.detach() * n, parts.ce * n, parts.att.to(device) * n,
                               (logits.argmax(1) == y).sum().float()])
        fractions.append(parts.in_region.detach())
    loss, ce, att, correct = (totals / len(data)).tolist()
    frac = torch.cat(fractions).float().cpu().numpy()
    return {"loss": loss, "ce": ce, "att": att, "acc": correct,
            "cam_in_region": float(np.nanmean(frac)) if np.isfinite(frac).any() else float("nan")}


@torch.no_grad()
def predict_proba(model, data: SplitData, device, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(data), batch):
        x = normalize(data.images[i : i + batch].to(device))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(F.softmax(model(x).float(), dim=1).cpu())
    return torch.cat(out).numpy()


def _val(model, data: SplitData, device) -> tuple[float, float]:
    p = predict_proba(model, data, device)
    y = data.labels.numpy()
    loss = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
    return loss, float((p.argmax(1) == y).mean())


def cam_layer_of(spec: RunSpec) -> str | None:
    """The configured Grad-CAM layer of the run's backbone (None: the registry's)."""
    layers = spec.train.cam_layer
    if isinstance(layers, dict):
        return {canonical(name): layer for name, layer in layers.items()}.get(canonical(spec.backbone))
    return layers


def build_model(spec: RunSpec, device):
    model, layer = create(spec.backbone, len(classes(spec.task)), spec.train.pretrained, cam_layer_of(spec),
                          spec.train.weights.get(spec.backbone))
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, layer


def train(spec: RunSpec, train_data: SplitData, val_data: SplitData, out: Path) -> pd.DataFrame:
    """Train and write ``model.pt`` (best val accuracy) and ``history.csv`` into ``out``.

    ``out/state.pt`` holds the resumable state after every epoch.
    """
    with gpu_slot(spec.train.device) as device:
        tqdm.write(f"device {device}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}")
        return _train(spec, train_data, val_data, out, device)


def _train(spec: RunSpec, train_data: SplitData, val_data: SplitData, out: Path, device: torch.device) -> pd.DataFrame:
    torch.set_num_threads(spec.train.threads)
    torch.manual_seed(spec.seed)
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    model, layer = build_model(spec, device)
    opt = torch.optim.Adam(model.parameters(), lr=spec.train.lr, fused=device.type == "cuda")
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=spec.train.lr_factor,
                                                       patience=spec.train.lr_patience, min_lr=spec.train.min_lr)
    state_path = out / "state.pt"
    state = _load_state(state_path, spec)
    history, best, since_best, start = [], {"acc": -1.0, "epoch": -1, "weights": None}, 0, 0
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best, since_best, start = state["history"], state["best"], state["since_best"], state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        tqdm.write(f"resuming {out} from epoch {start}")
    flag = _install_sigterm()
    for epoch in range(start, spec.train.epochs):
        if since_best >= spec.train.early_stop:
            break
        lam = 1.0 if epoch < spec.train.warmup_epochs else lambda_at(spec.lam, epoch)
        tic = time.time()
        row = _epoch(model, layer, train_data, spec, lam, opt, epoch, device, flag)
        val_loss, val_acc = _val(model, val_data, device)
        sched.step(val_loss)
        row.update(epoch=epoch, val_loss=val_loss, val_acc=val_acc, lr=opt.param_groups[0]["lr"], lam=lam,
                   seconds=time.time() - tic, images_per_s=len(train_data) / (time.time() - tic))
        history.append(row)
        if val_acc > best["acc"]:
            best = {"acc": val_acc, "epoch": epoch, "weights": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            since_best = 0 if spec.train.reset_early_stop else since_best
        else:
            since_best += 1
        tqdm.write(f"epoch {epoch}: loss {row['loss']:.4f} (ce {row['ce']:.4f}, att {row['att']:.4f}) "
                   f"acc {row['acc']:.3f} val_acc {val_acc:.3f} λ {lam:.3f} {row['images_per_s']:.0f} img/s")
        with atomic_path(state_path) as tmp:
            torch.save({"fingerprint": spec.fingerprint(), "epoch": epoch, "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "history": history,
                        "best": best, "since_best": since_best, "rng": torch.get_rng_state()}, tmp)
    with atomic_path(out / "model.pt") as tmp:
        torch.save({"state_dict": best["weights"], "spec": asdict(spec), "best_epoch": best["epoch"],
                    "fingerprint": spec.fingerprint()}, tmp)
    hist = pd.DataFrame(history)
    atomic_write_text(out / "history.csv", hist.to_csv(index=False))
    return hist


def lam_token(lam: float | str, warmup: int = 0) -> str:
    """λ schedule as it appears in run names: ``1``, ``0.75``, …, ``1a`` for adaptive (the
    original's suffix), then ``w{n}`` when ``n`` cross-entropy warm-up epochs come first."""
    return ("1a" if lam == ADAPTIVE else f"{float(lam):g}") + (f"w{warmup}" if warmup else "")


def parse_lam(token: str) -> tuple[float | str, int]:
    """λ and warm-up epochs of a run-name token (``0.5w2`` → 0.5, 2)."""
    lam, _, warmup = token.partition("w")
    return (ADAPTIVE if lam in ("1a", ADAPTIVE) else float(lam)), int(warmup or 0)
