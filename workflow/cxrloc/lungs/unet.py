"""Lung segmentation: train an smp U-Net on radiographs with lung masks, then precache
every cached image's lung mask and box once, so training never runs the U-Net."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..checkpoint import CheckpointError, load_checkpoint
from ..config import UNetConfig
from ..data.imagecache import ImageCache, read_gray
from ..errors import CxrlocError
from ..io import array_digest, atomic_path, save_torch
from .augment import augment, with_opacities
from .boxes import FLAGS, flags, keep_two_largest, lung_box
from .segset import Segset, hold_out, read_segset

DECODER = UNetConfig.decoder_channels


class WeightsFileError(CxrlocError, ValueError):
    pass


class Standardize(torch.nn.Module):
    """Inputs in [0, 1] put on the scale a pretrained encoder was trained on:
    ``(x · input_range_max − mean) / std`` per channel."""

    def __init__(self, mean: list[float], std: list[float], input_range: list[float]) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(input_range[1])))
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale - self.mean) / self.std


def build(encoder: str, decoder_channels: tuple[int, ...] = DECODER, standardize: dict | None = None) -> torch.nn.Module:
    """A U-Net in channels-last memory (10-15 % faster steps at 128 px on a 2-core CPU); with
    ``standardize`` (a pretrained encoder's ``mean``, ``std``, ``input_range``) its inputs are
    standardized first, as that encoder expects."""
    model = smp.Unet(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1,
                     decoder_channels=tuple(decoder_channels))
    if standardize:
        model = torch.nn.Sequential(Standardize(**standardize), model)
    return model.to(memory_format=torch.channels_last)


def pretrained(encoder: str, decoder_channels: tuple[int, ...], weights: Path) -> tuple[torch.nn.Module, dict, str]:
    """A U-Net whose encoder starts from a file of ``cxrloc fetch-weights --unet-encoder``, the
    standardization recorded in that file, and where its weights came from."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    rewrite = f"write it with `cxrloc fetch-weights --unet-encoder {encoder} --encoder-weights NAME --out {weights}`"
    try:
        with safe_open(str(weights), "pt") as f:
            meta = f.metadata() or {}
        standardize = {k: json.loads(meta[k]) for k in ("mean", "std", "input_range")}
        model = build(encoder, decoder_channels, standardize)
        model[1].encoder.load_state_dict(load_file(weights))
    except KeyError as e:
        raise WeightsFileError(f"{weights}: no {e.args[0]} in its metadata; {rewrite}") from None
    except Exception as e:  # noqa: BLE001 - safetensors, JSON and shape errors alike: not the encoder's weights
        raise WeightsFileError(f"{weights} is not a weights file of the U-Net encoder {encoder!r} "
                               f"({str(e).splitlines()[0]}); {rewrite}") from None
    return model, standardize, meta.get("source", str(weights))


def _as_input(gray: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` uint8, or float in [0, 1] → RGB float in [0, 1], as the paper's U-Net was fed."""
    x = gray.float() / 255 if gray.dtype == torch.uint8 else gray
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)


def final_mask(prob: np.ndarray, postprocess: bool) -> np.ndarray:
    """A probability map → the lung mask (> 0.5), optionally with the two largest components
    kept and their holes filled (``unet.postprocess``)."""
    mask = prob > 0.5
    return keep_two_largest(mask) if postprocess else mask


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
                loss = _loss(model(_as_input(images).to(device)), masks.float().unsqueeze(1).to(device))
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


def worst_cases(report: dict, data: Segset, test: np.ndarray, pred: list[np.ndarray], images: Path,
                n: int = 8) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """The ``n`` held-out images of lowest Dice, for ``figures.segmentations``."""
    dice = [report["per_image"][data.names[i]] for i in test]
    return [(f"{data.names[test[k]][:18]}\nDice {dice[k]:.3f}", read_gray(images / data.names[test[k]]),
             data.truth[test[k]], pred[k]) for k in np.argsort(dice, kind="stable")[:n]]


@torch.no_grad()
def probabilities(model: torch.nn.Module, gray: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """Lung probabilities (sigmoid) at the input's size, averaged with those of the left-right
    flipped image (flipped back): the U-Net trains on flips too."""
    model.eval()

    def prob(x: torch.Tensor) -> torch.Tensor:
        return model(_as_input(x).to(device)).squeeze(1).sigmoid().cpu()

    return torch.cat([(prob(g) + prob(g.flip(-1)).flip(-1)) / 2 for g in gray.split(batch)])


class LungModel(NamedTuple):
    model: torch.nn.Module
    size: int  # the input size it was trained at
    postprocess: bool  # unet.postprocess as it was trained (predict follows it; the workflow passes its own)


def load(path: Path, device: torch.device) -> LungModel:
    """A lung U-Net written by ``train-unet``; any other file is an error naming it."""
    ckpt = load_checkpoint(path, "lung U-Net checkpoint")
    try:
        model = build(ckpt["encoder"], ckpt["decoder_channels"], ckpt["standardize"])
        model.load_state_dict(ckpt["state_dict"])
        size = int(ckpt["image_size"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} is not a lung U-Net of cxrloc train-unet ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'no detail'}); train one, or give unet.checkpoint "
                              "a checkpoint that train-unet wrote") from None
    return LungModel(model.to(device), size, bool(ckpt.get("postprocess", False)))


def square_masks(model: torch.nn.Module, size: int, gray: np.ndarray, device: torch.device,
                 postprocess: bool) -> list[np.ndarray]:
    """Lung masks of square uint8 films ``(B, S, S)`` at their own size: each film shrunk to the U-Net's
    ``size``, its probabilities brought back to ``S`` bilinearly, then ``final_mask``."""
    s = gray.shape[-1]
    small = F.interpolate(torch.tensor(gray)[:, None].float(), size=(size, size), mode="bilinear", antialias=True)[:, 0]
    prob = probabilities(model, small.round().clamp(0, 255).to(torch.uint8), device, len(gray))
    at_cache = F.interpolate(prob[:, None], size=(s, s), mode="bilinear")[:, 0].numpy()
    return [final_mask(p, postprocess) for p in at_cache]


MASK_SIZE = 64  # the side of the lung masks kept per image (regions are upsampled from them)


def stored(mask: np.ndarray, mask_size: int = MASK_SIZE) -> np.ndarray:
    """A lung mask as the lung cache keeps it: uint8 at ``mask_size`` (nearest)."""
    small = F.interpolate(torch.from_numpy(mask)[None, None].float(), size=(mask_size,) * 2, mode="nearest")
    return small[0, 0].numpy().astype(np.uint8)


def precache(checkpoint: Path, cache: ImageCache, out: Path, device: torch.device,
             mask_size: int = MASK_SIZE, batch: int = 32, postprocess: bool = False) -> dict:
    """Mask, box and flags of every cached image, in one ``.npz``; the paper's fallback on empty masks."""
    model, size, _ = load(checkpoint, device)
    images = cache.images()
    n = images.shape[0]
    boxes = np.zeros((n, 4), np.int32)
    masks = np.zeros((n, mask_size, mask_size), np.uint8)
    flagged = np.zeros((n, len(FLAGS)), bool)
    start = time.time()
    for i in tqdm(range(0, n, batch), desc="precache lung masks", unit="batch"):
        for j, m in enumerate(square_masks(model, size, np.array(images[i : i + batch]), device, postprocess)):
            boxes[i + j] = lung_box(m)
            flagged[i + j] = [flags(m)[f] for f in FLAGS]
            masks[i + j] = stored(m, mask_size)
    seconds = time.time() - start
    names = cache.index.index.to_numpy().astype(str)
    arrays = {"image": names, "box": boxes, "mask": masks, "flags": flagged, "flag_names": np.array(FLAGS)}
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, digest=np.array(array_digest(arrays)), **arrays)
    counts = {f: int(flagged[:, k].sum()) for k, f in enumerate(FLAGS)}
    return {"images": n, "seconds": seconds, "images_per_s": n / max(seconds, 1e-9), "flags": counts}


def quality_table(report: dict) -> str:
    """The precache report's counts as an HTML table: images, each flag, images/s."""
    rows = {"images": report["images"], **{f"flagged {k}": v for k, v in report["flags"].items()},
            "images/s": f"{report['images_per_s']:.0f}"}
    return pd.DataFrame({"count": rows}).rename_axis("lung masks").to_html()
