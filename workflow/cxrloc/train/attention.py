"""The training objective: λ·cross-entropy + (1 − λ)·attention term (docs/method.md §6, §10).

Modes of the attention term (all but ``published`` differentiable through the map):
- ``soft`` (default): 1 − mean over the region of sigmoid((CAM − t)/τ), through the CAM
  (second-order, or first-order with the Grad-CAM weights detached);
- ``published``: the original's arithmetic, 1 − (region pixels with CAM > t)/(region
  pixels), with no gradient at all: the published training behaviour, for reproduction;
- ``energy``: 1 − the share of CAM mass inside the region;
- ``outside``: the mean CAM outside the region;
- ``signed``: the share of |M| outside the region, where M is the un-ReLU'd, unnormalized
  Grad-CAM of the logit difference z₁ − z₀, on every image (negatives too, against the
  positive class's region): evidence for either class outside the region is penalized,
  which a ReLU'd true-class CAM hides (binary tasks);
- ``rrr``: "right for the right reasons" (Ross et al. 2017): the squared input gradient of
  Σ log p, here as its share outside the region (Ross's plain sum needs a weight tuned to
  the data's scale; the share is bounded like the other terms, so one λ grid serves all).
The term is scaled by ``weight``: L = λ·CE + (1 − λ)·weight·L_att.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import AttentionConfig, ConfigError
from ..objectives import MAP_TERMS
from .cam import cams_for
from .camsize import check_cells

CAM_MODES = ("soft", "published", "energy", "outside")
EPS = 1e-6


def region_fraction(cam: torch.Tensor, region: torch.Tensor, thresh: float) -> torch.Tensor:
    """Per sample: the share of region pixels whose CAM exceeds ``thresh`` (hard, no gradient)."""
    with torch.no_grad():
        inside = ((cam > thresh).float() * region).sum(dim=(1, 2))
        return inside / region.sum(dim=(1, 2)).clamp_min(1)


def attention_term(cam: torch.Tensor, region: torch.Tensor, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    """Per-sample L_att of a map; 0 where the sample has no region (No Finding).

    Every mode is 0 for a map entirely inside the region and largest for one entirely
    outside it; an all-zero map gives a finite gradient.
    """
    area = region.sum(dim=(1, 2))
    has = (area > 0).float()
    outside = 1 - region
    if cfg.mode == "published":
        return (1 - region_fraction(cam, region, thresh)) * has
    if cfg.mode == "soft":
        soft = torch.sigmoid((cam - thresh) / cfg.tau)
        return (1 - (soft * region).sum(dim=(1, 2)) / area.clamp_min(1)) * has
    if cfg.mode == "energy":
        return (1 - (cam * region).sum(dim=(1, 2)) / (cam.sum(dim=(1, 2)) + EPS)) * has
    if cfg.mode == "outside":
        return (cam * outside).sum(dim=(1, 2)) / outside.sum(dim=(1, 2)).clamp_min(1) * has
    if cfg.mode in ("signed", "rrr"):
        mass = cam.abs()
        return (mass * outside).sum(dim=(1, 2)) / (mass.sum(dim=(1, 2)) + EPS) * has
    raise ConfigError(f"attention.mode {cfg.mode!r} is no map term; map terms: {', '.join(MAP_TERMS)}")


def signed_map(logits: torch.Tensor, activations: torch.Tensor, size) -> torch.Tensor:
    """Un-ReLU'd, unnormalized Grad-CAM of z₁ − z₀, differentiable, upsampled to ``size``."""
    if logits.shape[1] != 2:
        raise ConfigError("attention.mode 'signed' is defined for binary tasks")
    (grads,) = torch.autograd.grad((logits[:, 1] - logits[:, 0]).sum(), activations, create_graph=True)
    m = (grads.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1, keepdim=True)
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False).squeeze(1)


def input_gradient_energy(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Per pixel, the squared input gradient of Σ log p, summed over channels (Ross et al. 2017)."""
    (grads,) = torch.autograd.grad(F.log_softmax(logits, dim=1).sum(), inputs, create_graph=True)
    return grads.pow(2).sum(dim=1)


@dataclass
class LossParts:
    loss: torch.Tensor
    ce: torch.Tensor
    att: torch.Tensor
    in_region: torch.Tensor


def _map_and_regions(logits, activations, inputs, labels, regions_fn, cfg: AttentionConfig):
    """The map a mode penalizes, and the regions it is judged against."""
    if cfg.mode == "signed":
        check_cells(activations)
        regions = regions_fn(torch.ones_like(labels))
        return signed_map(logits, activations, regions.shape[-2:]), regions
    regions = regions_fn(labels)
    if cfg.mode == "rrr":
        return input_gradient_energy(logits, inputs), regions
    check_cells(activations)
    targets = logits.argmax(dim=1).detach() if cfg.cam_target == "predicted" else labels
    differentiable = cfg.mode != "published"
    cam = cams_for(logits, activations, targets, regions.shape[-2:], create_graph=differentiable,
                   detach_weights=differentiable and cfg.first_order)
    return cam, regions


def objective(logits: torch.Tensor, activations: torch.Tensor | None, labels: torch.Tensor,
              regions_fn, lam: float | torch.Tensor, thresh: float, cfg: AttentionConfig,
              inputs: torch.Tensor | None = None) -> LossParts:
    """Batch loss from one forward. λ = 1 never computes a map; λ may be a device scalar (a
    CUDA graph's, changed between replays), and then a map is always computed.

    ``regions_fn(labels)`` returns the ``(B, H, W)`` target regions of those labels; it is
    only called when a map is. ``inputs`` (requiring grad) is needed by ``rrr`` only.
    """
    ce = F.cross_entropy(logits, labels, reduction="none")
    if activations is None or (not torch.is_tensor(lam) and lam >= 1.0):
        nan = torch.full_like(ce, float("nan"))
        return LossParts(ce.mean(), ce.mean().detach(), ce.new_zeros(()), nan)
    heat, regions = _map_and_regions(logits, activations, inputs, labels, regions_fn, cfg)
    att = attention_term(heat, regions, thresh, cfg)
    loss = (lam * ce + (1 - lam) * cfg.weight * att).mean()
    has = regions.sum(dim=(1, 2)) > 0
    frac = region_fraction(heat, regions, thresh) if cfg.mode in CAM_MODES else torch.full_like(ce, float("nan"))
    return LossParts(loss, ce.mean().detach(), att.mean().detach(), frac.masked_fill(~has, float("nan")))
