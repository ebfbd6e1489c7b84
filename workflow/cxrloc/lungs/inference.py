"""The lung U-Net applied: masks of films at their own size, and the lung cache precached once
per image (mask, box, flags), so training never runs the U-Net."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import atomic_path
from ..data.imagecache import ImageCache
from ..digests import array_digest
from .boxes import FLAGS, flags, keep_two_largest, lung_box
from .unet import as_input, load


def final_mask(prob: np.ndarray, postprocess: bool) -> np.ndarray:
    """A probability map → the lung mask (> 0.5), optionally with the two largest components
    kept and their holes filled (``unet.postprocess``)."""
    mask = prob > 0.5
    return keep_two_largest(mask) if postprocess else mask


@torch.no_grad()
def probabilities(model: torch.nn.Module, gray: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """Lung probabilities (sigmoid) at the input's size, averaged with those of the left-right
    flipped image (flipped back): the U-Net trains on flips too."""
    model.eval()

    def prob(x: torch.Tensor) -> torch.Tensor:
        return model(as_input(x).to(device)).squeeze(1).sigmoid().cpu()

    return torch.cat([(prob(g) + prob(g.flip(-1)).flip(-1)) / 2 for g in gray.split(batch)])


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
