"""Training the lung U-Net on radiographs with lung masks, whole patients held out and scored."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import save_torch
from ..config import UNetConfig
from .augment import augment, with_opacities
from .inference import final_mask, probabilities
from .segset import Segset, hold_out, read_segset
from .unet import as_input, build, pretrained


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice."""
    prob = logits.sigmoid()
    soft_dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + soft_dice


def stages(x: torch.Tensor, y: torch.Tensor, cfg: UNetConfig) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """The training films and masks at each ``cfg.progressive`` size (shrunk with antialiasing),
    then at their own, each with its epochs."""

    def shrink(a: torch.Tensor, size: int) -> torch.Tensor:
        return F.interpolate(a[:, None].float(), size=(size, size), mode="bilinear", antialias=True)[:, 0]

    small = [(shrink(x, s).round().clamp(0, 255).to(torch.uint8), shrink(y, s) > 0.5, e) for s, e in cfg.progressive]
    return [*small, (x, y, cfg.epochs)]


def fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: UNetConfig, device: torch.device) -> None:
    """Adam with one cosine learning rate over every step of every stage (``stages``), on
    augmented batches (``cfg.augment``)."""
    rng = np.random.default_rng(cfg.seed)
    n_batches = max(1, len(x) // cfg.batch_size)
    plan = stages(x, y, cfg)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, sum(epochs for *_, epochs in plan) * n_batches)
    model.train()
    for xs, ys, epochs in plan:
        for _ in tqdm(range(epochs), desc=f"train U-Net at {xs.shape[-1]} px", unit="epoch"):
            for batch in np.array_split(rng.permutation(len(xs)), n_batches):
                images, masks = xs[batch], ys[batch]
                if cfg.augment:
                    images, masks = augment(with_opacities(images, masks, cfg.opacities, rng), masks)
                loss = _loss(model(as_input(images).to(device)), masks.float().unsqueeze(1).to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()


def scores(pred: list[np.ndarray], truth: list[np.ndarray]) -> dict:
    """Per-image Dice (mean, median, 10th percentile), and Dice and IoU pooled over all pixels."""
    inter = np.array([(p & t).sum() for p, t in zip(pred, truth)], dtype=float)
    sizes = np.array([p.sum() + t.sum() for p, t in zip(pred, truth)], dtype=float)
    dice = 2 * inter / np.maximum(sizes, 1)
    return {"dice_mean": float(dice.mean()), "dice_median": float(np.median(dice)),
            "dice_p10": float(np.percentile(dice, 10)), "dice_pooled": float(2 * inter.sum() / max(sizes.sum(), 1)),
            "iou_pooled": float(inter.sum() / max(sizes.sum() - inter.sum(), 1)), "per_image": dice.tolist()}


def score_images(model: torch.nn.Module, data: Segset, idx: np.ndarray, device: torch.device,
                 postprocess: bool) -> tuple[dict, list[np.ndarray]]:
    """``scores`` of the set's images ``idx``, each predicted and restored to its own size (per image
    by name), and their predicted masks."""
    prob = probabilities(model, torch.from_numpy(data.images[idx]), device).numpy()
    pred = [final_mask(data.letterboxes[i].restore(p), postprocess) for i, p in zip(idx, prob)]
    result = scores(pred, [data.truth[i] for i in idx])
    result["per_image"] = dict(zip([data.names[i] for i in idx], result["per_image"]))
    return result, pred


def train_unet(images: Path, masks: Path, cfg: UNetConfig, out: Path, device: torch.device,
               labels: Path | None = None, encoder_weights: Path | None = None,
               ) -> tuple[dict, Segset, np.ndarray, list[np.ndarray]]:
    """Train on the set's training patients (the encoder from ``encoder_weights`` when given),
    score the held-out patients' images at their own size, and save the checkpoint atomically.
    Returns the report, the set, the held-out indices and their predicted masks."""
    torch.manual_seed(cfg.seed)
    data = read_segset(images, masks, cfg.image_size, labels, cfg.mask_suffix, cfg.max_images)
    train, test = hold_out(data.patients, cfg.held_out, cfg.seed)
    x, y = torch.from_numpy(data.images), torch.from_numpy(data.masks)
    model, standardize, source = (pretrained(cfg.encoder, cfg.decoder_channels, encoder_weights) if encoder_weights
                                  else (build(cfg.encoder, cfg.decoder_channels), None, None))
    model = model.to(device)
    start = time.time()
    fit(model, x[train], y[train], cfg, device)
    seconds = time.time() - start
    result, pred = score_images(model, data, test, device, cfg.postprocess)
    save_torch({"state_dict": model.state_dict(), "encoder": cfg.encoder, "image_size": cfg.image_size,
                "decoder_channels": list(cfg.decoder_channels), "standardize": standardize,
                "postprocess": cfg.postprocess}, out)
    report = {**result, "train_images": len(train), "held_out_images": len(test),
              "train_patients": len({data.patients[i] for i in train}),
              "held_out_patients": len({data.patients[i] for i in test}), "seconds": seconds,
              "encoder": cfg.encoder, "decoder_channels": list(cfg.decoder_channels), "image_size": cfg.image_size,
              "epochs": cfg.epochs, "progressive": [list(stage) for stage in cfg.progressive], "augment": cfg.augment,
              "opacities": cfg.opacities if cfg.augment else 0.0,
              "postprocess": cfg.postprocess,
              "encoder_weights": source}
    return report, data, test, pred
