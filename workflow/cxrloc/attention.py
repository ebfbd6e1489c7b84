"""The training objective: λ·cross-entropy + (1 − λ)·attention term (METHOD.md §6, §10).

Modes of the attention term:
- ``soft`` (default): 1 − mean over the region of sigmoid((CAM − t)/τ), differentiable
  through the CAM (second-order, or first-order with the Grad-CAM weights detached);
- ``published``: the original's arithmetic, 1 − (region pixels with CAM > t)/(region
  pixels), with no gradient at all: the published training behaviour, for reproduction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .cam import cams_for

MODES = ("soft", "published")
ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class AttentionConfig:
    mode: str = "soft"
    tau: float = 0.1
    cam_target: str = "predicted"
    first_order: bool = False
    region: str = "box"


def lambda_at(lam: float | str, epoch: int) -> float:
    """λ of an epoch (from 0): fixed, or adaptive max(0.2, 1 − 0.023·epoch)."""
    if lam == ADAPTIVE:
        return max(0.2, 1.0 - 0.023 * epoch)
    return float(lam)


def lambda_name(lam: float | str) -> str:
    """λ as tables key it: ``1``, ``0.75``, …, ``adaptive``."""
    return ADAPTIVE if lam == ADAPTIVE else f"{float(lam):g}"


def region_fraction(cam: torch.Tensor, region: torch.Tensor, thresh: float) -> torch.Tensor:
    """Per sample: the share of region pixels whose CAM exceeds ``thresh`` (hard, no gradient)."""
    with torch.no_grad():
        inside = ((cam > thresh).float() * region).sum(dim=(1, 2))
        return inside / region.sum(dim=(1, 2)).clamp_min(1)


def attention_term(cam: torch.Tensor, region: torch.Tensor, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    """Per-sample L_att; 0 where the sample has no region (No Finding)."""
    area = region.sum(dim=(1, 2))
    has = (area > 0).float()
    if cfg.mode == "published":
        return (1 - region_fraction(cam, region, thresh)) * has
    if cfg.mode == "soft":
        soft = torch.sigmoid((cam - thresh) / cfg.tau)
        return (1 - (soft * region).sum(dim=(1, 2)) / area.clamp_min(1)) * has
    raise ValueError(f"attention.mode {cfg.mode!r}; valid: {', '.join(MODES)}")


@dataclass
class LossParts:
    loss: torch.Tensor
    ce: torch.Tensor
    att: torch.Tensor
    in_region: torch.Tensor


def objective(logits: torch.Tensor, activations: torch.Tensor | None, labels: torch.Tensor,
              regions_fn, lam: float, thresh: float, cfg: AttentionConfig) -> LossParts:
    """Batch loss from one forward. λ = 1 never computes a CAM.

    ``regions_fn()`` returns the ``(B, H, W)`` target regions; it is only called when a CAM is.
    """
    ce = F.cross_entropy(logits, labels, reduction="none")
    if lam >= 1.0 or activations is None:
        nan = torch.full_like(ce, float("nan"))
        return LossParts(ce.mean(), ce.mean().detach(), torch.zeros(()), nan)
    targets = logits.argmax(dim=1).detach() if cfg.cam_target == "predicted" else labels
    regions = regions_fn()
    differentiable = cfg.mode != "published"
    cam = cams_for(logits, activations, targets, regions.shape[-2:], create_graph=differentiable,
                   detach_weights=differentiable and cfg.first_order)
    att = attention_term(cam, regions, thresh, cfg)
    loss = (lam * ce + (1 - lam) * att).mean()
    has = regions.sum(dim=(1, 2)) > 0
    frac = region_fraction(cam, regions, thresh).masked_fill(~has, float("nan"))
    return LossParts(loss, ce.mean().detach(), att.mean().detach(), frac)
