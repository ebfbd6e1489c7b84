"""Map terms of the training objective: λ·cross-entropy + (1 − λ)·weight·term, where the term
reads a map of the batch (docs/method.md §6, §10). Which term and which map an objective uses,
its registry record says (cxrloc.objectives); every term is per sample, 0 for a map entirely
inside the region, largest for one entirely outside it, and 0 where a sample has no region (No
Finding); an all-zero map gives a finite gradient.

- ``soft_fraction`` (``soft``): 1 − mean over the region of sigmoid((CAM − t)/τ), through the CAM
  (second-order, or first-order with the Grad-CAM weights detached);
- ``hard_fraction`` (``published``): the original's arithmetic, 1 − (region pixels with CAM > t)
  /(region pixels), with no gradient at all: the published training behaviour, for reproduction;
- ``energy_outside`` (``energy``): 1 − the share of CAM mass inside the region;
- ``mean_outside`` (``outside``): the mean CAM outside the region;
- ``mass_outside`` (``signed``, ``rrr``): the share of |M| outside the region; for ``signed`` M is
  the un-ReLU'd, unnormalized Grad-CAM of the logit difference z₁ − z₀, on every image (negatives
  too, against the positive class's region): evidence for either class outside the region is
  penalized, which a ReLU'd true-class CAM hides (binary tasks); for ``rrr`` ("right for the right
  reasons", Ross et al. 2017) M is the squared input gradient of Σ log p (Ross's plain sum needs a
  weight tuned to the data's scale; the share is bounded like the other terms, so one λ grid
  serves all).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import AttentionConfig, ConfigError
from ..objectives import CAM, INPUT_GRADIENT, SIGNED_CAM, Objective, function
from .cam import cams_for
from .camsize import check_cells

EPS = 1e-6


def region_fraction(cam: torch.Tensor, region: torch.Tensor, thresh: float) -> torch.Tensor:
    """Per sample: the share of region pixels whose CAM exceeds ``thresh`` (hard, no gradient)."""
    with torch.no_grad():
        inside = ((cam > thresh).float() * region).sum(dim=(1, 2))
        return inside / region.sum(dim=(1, 2)).clamp_min(1)


def _has(region: torch.Tensor) -> torch.Tensor:
    return (region.sum(dim=(1, 2)) > 0).float()


def hard_fraction(cam, region, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    return (1 - region_fraction(cam, region, thresh)) * _has(region)


def soft_fraction(cam, region, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    soft = torch.sigmoid((cam - thresh) / cfg.tau)
    return (1 - (soft * region).sum(dim=(1, 2)) / region.sum(dim=(1, 2)).clamp_min(1)) * _has(region)


def energy_outside(cam, region, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    return (1 - (cam * region).sum(dim=(1, 2)) / (cam.sum(dim=(1, 2)) + EPS)) * _has(region)


def mean_outside(cam, region, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    outside = 1 - region
    return (cam * outside).sum(dim=(1, 2)) / outside.sum(dim=(1, 2)).clamp_min(1) * _has(region)


def mass_outside(heat, region, thresh: float, cfg: AttentionConfig) -> torch.Tensor:
    mass = heat.abs()
    return (mass * (1 - region)).sum(dim=(1, 2)) / (mass.sum(dim=(1, 2)) + EPS) * _has(region)


def signed_map(logits: torch.Tensor, activations: torch.Tensor, size) -> torch.Tensor:
    """Un-ReLU'd, unnormalized Grad-CAM of z₁ − z₀, differentiable, upsampled to ``size``."""
    if logits.shape[1] != 2:
        raise ConfigError("the signed Grad-CAM of z₁ − z₀ (objective signed) is defined for binary tasks")
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


def _map_and_regions(objective: Objective, logits, activations, inputs, labels, regions_fn, cfg: AttentionConfig):
    """The map the objective's term reads, and the regions it is judged against."""
    if objective.heat == SIGNED_CAM:
        check_cells(activations)
        regions = regions_fn(torch.ones_like(labels))
        return signed_map(logits, activations, regions.shape[-2:]), regions
    regions = regions_fn(labels)
    if objective.heat == INPUT_GRADIENT:
        return input_gradient_energy(logits, inputs), regions
    check_cells(activations)
    targets = logits.argmax(dim=1).detach() if cfg.cam_target == "predicted" else labels
    graph = objective.graph_through_cam
    cam = cams_for(logits, activations, targets, regions.shape[-2:], create_graph=graph,
                   detach_weights=graph and cfg.first_order)
    return cam, regions


def objective_loss(objective: Objective, logits: torch.Tensor, activations: torch.Tensor | None, labels: torch.Tensor,
                   regions_fn, lam: float | torch.Tensor, thresh: float, cfg: AttentionConfig,
                   inputs: torch.Tensor | None = None) -> LossParts:
    """Batch loss of a map-term objective from one forward. λ = 1 never computes a map; λ may be a
    device scalar (a CUDA graph's, changed between replays), and then a map is always computed.

    ``regions_fn(labels)`` returns the ``(B, H, W)`` target regions of those labels; it is
    only called when a map is. ``inputs`` (requiring grad) is needed by an input-gradient map only.
    """
    ce = F.cross_entropy(logits, labels, reduction="none")
    if activations is None or (not torch.is_tensor(lam) and lam >= 1.0):
        nan = torch.full_like(ce, float("nan"))
        return LossParts(ce.mean(), ce.mean().detach(), ce.new_zeros(()), nan)
    heat, regions = _map_and_regions(objective, logits, activations, inputs, labels, regions_fn, cfg)
    att = function(objective.term)(heat, regions, thresh, cfg)
    loss = (lam * ce + (1 - lam) * cfg.weight * att).mean()
    has = regions.sum(dim=(1, 2)) > 0
    frac = region_fraction(heat, regions, thresh) if objective.heat == CAM else torch.full_like(ce, float("nan"))
    return LossParts(loss, ce.mean().detach(), att.mean().detach(), frac.masked_fill(~has, float("nan")))
