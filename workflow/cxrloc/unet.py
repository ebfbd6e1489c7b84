"""Lung segmentation: train an smp U-Net on radiographs with lung masks, then precache
every cached image's lung mask and box once, so training never runs the U-Net."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import UNetConfig
from .imagecache import ImageCache, load_gray
from .io import array_digest, atomic_path, save_torch
from .lungs import FLAGS, flags, keep_two_largest, lung_box


def build(encoder: str) -> torch.nn.Module:
    return smp.Unet(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1)


def _as_input(gray_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W)`` → RGB float in [0, 1], as the paper's U-Net was fed."""
    return (gray_uint8.float() / 255).unsqueeze(1).expand(-1, 3, -1, -1)


def _pairs(images: Path, masks: Path, cfg: UNetConfig) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(p.name for p in images.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if cfg.max_images:
        names = names[: cfg.max_images]
    x = np.stack([load_gray(images / n, cfg.image_size) for n in names])
    y = np.stack([load_gray(masks / (Path(n).stem + cfg.mask_suffix + Path(n).suffix), cfg.image_size) > 127 for n in names])
    return x, y


def dice_iou(pred: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    inter = (pred & truth).sum().item()
    total = pred.sum().item() + truth.sum().item()
    union = (pred | truth).sum().item()
    return 2 * inter / max(total, 1), inter / max(union, 1)


def train_unet(images: Path, masks: Path, cfg: UNetConfig, out: Path, device: torch.device) -> dict:
    """Train, report Dice and IoU on held-out images, and save the checkpoint atomically."""
    torch.manual_seed(cfg.seed)
    x, y = _pairs(images, masks, cfg)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(x))
    n_test = max(1, int(round(cfg.held_out * len(x))))
    test, train = order[:n_test], order[n_test:]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = build(cfg.encoder).to(device)
    opt = torch.optim.Adam(model.parameters(), cfg.lr)
    start = time.time()
    for _ in tqdm(range(cfg.epochs), desc="train U-Net", unit="epoch"):
        model.train()
        for batch in np.array_split(rng.permutation(train), max(1, len(train) // cfg.batch_size)):
            logits = model(_as_input(xt[batch]).to(device))
            target = yt[batch].float().unsqueeze(1).to(device)
            prob = logits.sigmoid()
            soft_dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
            loss = F.binary_cross_entropy_with_logits(logits, target) + soft_dice
            opt.zero_grad()
            loss.backward()
            opt.step()
    pred = predict(model, xt[test], device)
    dice, iou = dice_iou(pred, yt[test])
    save_torch({"state_dict": model.state_dict(), "encoder": cfg.encoder, "image_size": cfg.image_size}, out)
    return {"dice": dice, "iou": iou, "train_images": len(train), "held_out_images": len(test),
            "seconds": time.time() - start, "encoder": cfg.encoder, "image_size": cfg.image_size}


@torch.no_grad()
def predict(model: torch.nn.Module, gray: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """Boolean lung masks at the input's size: sigmoid > 0.5."""
    model.eval()
    out = [model(_as_input(gray[i : i + batch]).to(device)).squeeze(1).cpu() > 0 for i in range(0, len(gray), batch)]
    return torch.cat(out)


def load(path: Path, device: torch.device) -> tuple[torch.nn.Module, int]:
    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = build(ckpt["encoder"]).to(device)
    model.load_state_dict(ckpt["state_dict"])
    return model, int(ckpt["image_size"])


def precache(checkpoint: Path, cache: ImageCache, out: Path, device: torch.device,
             mask_size: int = 64, batch: int = 32, postprocess: bool = False) -> dict:
    """Mask, box and flags of every cached image, in one ``.npz``; the paper's fallback on empty masks."""
    model, size = load(checkpoint, device)
    images = cache.images()
    n, s = images.shape[0], images.shape[1]
    boxes = np.zeros((n, 4), np.int32)
    masks = np.zeros((n, mask_size, mask_size), np.uint8)
    flagged = np.zeros((n, len(FLAGS)), bool)
    start = time.time()
    for i in tqdm(range(0, n, batch), desc="precache lung masks", unit="batch"):
        gray = torch.from_numpy(np.ascontiguousarray(images[i : i + batch]))
        gray = F.interpolate(gray[:, None].float(), size=(size, size), mode="bilinear", antialias=True)[:, 0]
        pred = predict(model, gray.round().clamp(0, 255).to(torch.uint8), device, batch)
        at_cache = F.interpolate(pred[:, None].float(), size=(s, s), mode="nearest")[:, 0].numpy() > 0.5
        for j, m in enumerate(at_cache):
            if postprocess:
                m = keep_two_largest(m)
            boxes[i + j] = lung_box(m)
            flagged[i + j] = [flags(m)[f] for f in FLAGS]
            small = F.interpolate(torch.from_numpy(m)[None, None].float(), size=(mask_size,) * 2, mode="nearest")
            masks[i + j] = small[0, 0].numpy()
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
