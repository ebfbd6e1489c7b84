"""Objectives that make the prediction independent of what lies outside a region, on a second
pass of the batch (batched with the first: one forward of ``2B`` images).

- ``actdiff`` (after Viviano et al., ICLR 2021): the distance between the model's features of
  an image and of the same image with everything outside the region replaced by a fill,
  relative to their energies (``‖a − b‖² / (‖a‖² + ‖b‖²)``, in [0, 2]) so that one λ grid
  serves every backbone;
- ``swap``: the cross-entropy of ``region·x + (1 − region)·x_other`` with ``x``'s label, the
  outside taken from the next image of the (shuffled) batch, never the image itself, so that
  in swapped images the outside is independent of the label; plus ``swap_kl`` times the KL
  divergence between the predictions on the two: what lies outside the region stops carrying
  the label. (Always taking a partner of the other label makes the outside *anti*-correlated
  with the label in swapped images: measured on the corner-marker benchmark at λ = 0.25, the
  model learned the opposite shortcut and pasting the marker flipped every prediction.)

The region is the lung mask (``invariance_region: lungs``) or the task's target region
(``target``): a positive's own class region, and for a negative the union of the positive
classes' regions, so that the swapped images of both classes keep the same kind of region.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import AttentionConfig, ConfigError
from ..lungs.regions import target_regions, upsampled
from ..objectives import Objective, function
from .attention import LossParts

EPS = 1e-6
BLACK = -1.0  # a black pixel after normalization (mean 0.5, std 0.5)


def fill(x: torch.Tensor, how: str, black: float = BLACK) -> torch.Tensor:
    """What replaces the outside of images ``(B, C, S, S)``: black (``black``: normalized images by
    default), each image's mean, or a heavy blur of the image (a box filter a quarter of its side)."""
    if how == "zero":
        return torch.full_like(x, black)
    if how == "mean":
        return x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)
    if how == "blur":
        k = max(3, x.shape[-1] // 4) | 1
        gray = x.shape[1] > 1 and x.stride(1) == 0  # one channel repeated (normalize's view): blur it once
        blurred = F.avg_pool2d(x[:, :1] if gray else x, k, stride=1, padding=k // 2, count_include_pad=False)
        return blurred.expand_as(x)
    raise ConfigError(f"attention.fill {how!r}; valid: zero, mean, blur")


def keep_region(x: torch.Tensor, region: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """``region·x + (1 − region)·outside`` for images ``(B, C, S, S)`` and regions ``(B, S, S)``."""
    r = region.unsqueeze(1).to(x.dtype)
    return r * x + (1 - r) * outside


def partners(labels: torch.Tensor) -> torch.Tensor:
    """For each sample, the next sample of the batch (the last takes the first): never itself in
    a batch of two or more, and, the batch being shuffled every epoch, of a label independent of
    its own. No host synchronization (CUDA-graph safe)."""
    return torch.arange(len(labels), device=labels.device).roll(-1)


def invariance_regions(cfg: AttentionConfig, labels: torch.Tensor, kinds: torch.Tensor, boxes: torch.Tensor,
                       lung_masks: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, size, size)`` 0/1 regions; ``kinds`` is the task's region kind per label."""
    if cfg.invariance_region == "lungs":
        return upsampled(lung_masks, size)
    if cfg.invariance_region != "target":
        raise ConfigError(f"attention.invariance_region {cfg.invariance_region!r}; valid: target, lungs")
    own = target_regions(cfg.region, boxes, kinds[labels], size, lung_masks)
    union = torch.zeros_like(own)
    for kind in kinds[1:]:
        union = torch.maximum(union, target_regions(cfg.region, boxes, kind.expand_as(labels), size, lung_masks))
    return torch.where((labels > 0).view(-1, 1, 1), own, union)


def keep_region_filled(x: torch.Tensor, labels: torch.Tensor, regions: torch.Tensor, cfg: AttentionConfig) -> torch.Tensor:
    """``actdiff``'s second pass: the images with their outside replaced by ``attention.fill``."""
    return keep_region(x, regions, fill(x, cfg.fill))


def keep_region_swapped(x: torch.Tensor, labels: torch.Tensor, regions: torch.Tensor, cfg: AttentionConfig) -> torch.Tensor:
    """``swap``'s second pass: the images with their outside taken from their partners."""
    return keep_region(x, regions, x[partners(labels)])


def relative_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per sample ``‖a − b‖² / (‖a‖² + ‖b‖²)`` over flattened features: 0 for equal features."""
    a, b = a.flatten(1).float(), b.flatten(1).float()
    return (a - b).pow(2).sum(1) / (a.pow(2).sum(1) + b.pow(2).sum(1) + EPS)


def feature_distance(logits, second_logits, features, second_features, labels, cfg: AttentionConfig) -> torch.Tensor:
    """``actdiff``'s term: the relative distance of the two passes' features."""
    return relative_distance(features, second_features)


def swapped_cross_entropy(logits, second_logits, features, second_features, labels, cfg: AttentionConfig) -> torch.Tensor:
    """``swap``'s term: the cross-entropy of the swapped images, plus ``swap_kl`` times the KL
    divergence between the predictions on the two passes."""
    term = F.cross_entropy(second_logits, labels, reduction="none")
    if cfg.swap_kl:
        kl = F.kl_div(F.log_softmax(second_logits, 1), F.log_softmax(logits, 1), log_target=True, reduction="none").sum(1)
        term = term + cfg.swap_kl * kl
    return term


def objective_loss(objective: Objective, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, lam,
                   cfg: AttentionConfig) -> LossParts:
    """Batch loss from one forward of ``[x; x_second]`` (``logits`` and ``features`` of ``2B``
    samples): λ·CE(x) + (1 − λ)·weight·term."""
    first, second = logits.chunk(2)
    f1, f2 = features.chunk(2)
    ce = F.cross_entropy(first, labels, reduction="none")
    term = function(objective.term)(first, second, f1, f2, labels, cfg)
    loss = (lam * ce + (1 - lam) * cfg.weight * term).mean()
    return LossParts(loss, ce.mean().detach(), term.mean().detach(), torch.full_like(ce, float("nan")))
