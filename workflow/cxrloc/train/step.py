"""The optimization steps of one training job: eager, or on CUDA captured as CUDA graphs.

The eager step is the CPU path and the fallback. On CUDA (``train.cuda_graph: true``, the
default) the split is made resident on the GPU and the whole step (the batch gathered from
the resident split, forward, the Grad-CAM pass with its double backward, the loss, Adam) is
captured once per regime (cross-entropy alone at λ = 1, or with the attention term, where λ
is a device scalar) and replayed, so the host launches one graph per batch instead of
hundreds of kernels. The first ``GRAPH_WARMUP_STEPS`` steps of a regime run eagerly on a side stream
(real steps, as CUDA graph capture asks); a last partial batch runs eagerly too, so no
padded sample ever touches batch statistics. Totals stay on the device and are read once
an epoch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..config import AttentionConfig
from ..lungs.regions import kinds_for, target_regions
from ..objectives import INPUT_GRADIENT, Objective, function
from ..tasks import Task
from . import attention, invariance
from .cam import capture, capture_input
from .splitdata import SplitData, normalize

if TYPE_CHECKING:
    from .run import RunSpec

GRAPH_WARMUP_STEPS = 3  # eager steps of a regime before its CUDA graph is captured (not λ's warm-up epochs)
RESIDENT_SHARE = 0.25  # keep a split on the GPU when it takes at most this share of free memory


@dataclass(frozen=True)
class StepSettings:
    task: Task
    thresh: float
    batch_size: int
    objective: Objective
    attention: AttentionConfig
    use_graph: bool  # replay full batches as CUDA graphs (the split must be resident on the GPU)
    channels_last: bool = False  # feed the model channels-last batches (train.channels_last)

    @classmethod
    def of(cls, spec: RunSpec, use_graph: bool, channels_last: bool = False) -> StepSettings:
        """The settings of the run ``spec``'s steps."""
        return cls(spec.task, spec.thresh, spec.train.batch_size, spec.objective, spec.attention, use_graph, channels_last)


def fits_on(data: SplitData, device: torch.device) -> bool:
    """Whether a split's tensors fit comfortably in the GPU's free memory."""
    free, _ = torch.cuda.mem_get_info(device)
    size = sum(t.numel() * t.element_size() for t in (data.images, data.labels, data.boxes, data.lung_masks))
    return size <= RESIDENT_SHARE * free


def resident(data: SplitData, device: torch.device) -> SplitData:
    """The split with its images, labels, boxes and masks on ``device``."""
    return SplitData(data.names, data.images.to(device), data.labels.to(device), data.boxes.to(device),
                     data.lung_masks.to(device), data.lesions)


def optimizer(params, lr: float, device: torch.device, graph: bool) -> torch.optim.Adam:
    """Adam, fused on CUDA; for a CUDA graph also capturable, with the learning rate on the device
    (a graph bakes in host scalars, and the scheduler changes the rate between epochs)."""
    return torch.optim.Adam(params, lr=torch.tensor(lr, device=device) if graph else lr, fused=device.type == "cuda",
                            capturable=graph)


class Steps:
    """Runs the steps of an epoch and keeps its totals (loss, ce, att, correct; in-region) on the device."""

    def __init__(self, model, layer, opt, settings: StepSettings, data: SplitData, device: torch.device):
        self.model, self.layer, self.opt, self.cfg, self.device = model, layer, opt, settings, device
        self.data = data
        self.kinds = kinds_for(settings.task).to(device)
        self.amp = device.type == "cuda"
        self.totals = torch.zeros(4, dtype=torch.float64, device=device)
        self.in_region = torch.zeros(2, dtype=torch.float64, device=device)  # sum of fractions, count
        self.graphs: dict[str, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.warm: dict[str, int] = {}

    def epoch_order(self, order: torch.Tensor) -> list[torch.Tensor]:
        """The epoch's batches of sample indices, on the device that holds the split. For an
        objective that pairs images, a trailing batch of one joins the batch before it: no
        image is ever its own partner."""
        batches = list(order.to(self.data.images.device).split(self.cfg.batch_size))
        if self.cfg.objective.pairs and len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2:] = [torch.cat(batches[-2:])]
        return batches

    def __call__(self, idx: torch.Tensor, lam: float) -> None:
        """One optimization step on the samples ``idx`` (a full batch replays a graph when enabled)."""
        if not self.cfg.use_graph or len(idx) != self.cfg.batch_size:
            self._eager(idx, lam)
            return
        regime = "ce" if lam >= 1 else "att"
        if regime not in self.graphs:
            if self.warm.get(regime, 0) < GRAPH_WARMUP_STEPS:
                self.warm[regime] = self.warm.get(regime, 0) + 1
                side = torch.cuda.Stream(self.device)
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    self._eager(idx, lam)
                torch.cuda.current_stream(self.device).wait_stream(side)
                return
            self.graphs[regime] = self._capture(idx, lam)
        graph, static_idx, static_lam = self.graphs[regime]
        static_idx.copy_(idx)
        static_lam.fill_(lam)
        graph.replay()

    def read(self, n: int) -> dict:
        """The epoch's means (one host read) and a reset for the next epoch."""
        loss, ce, att, correct = (self.totals / n).tolist()
        frac_sum, frac_n = self.in_region.tolist()
        self.totals.zero_()
        self.in_region.zero_()
        return {"loss": loss, "ce": ce, "att": att, "acc": correct,
                "cam_in_region": frac_sum / frac_n if frac_n else float("nan")}

    def _eager(self, idx: torch.Tensor, lam: float) -> None:
        self.opt.zero_grad(set_to_none=True)
        self._step(idx, lam, cache=True)

    def _capture(self, idx: torch.Tensor, lam: float):
        static_idx = idx.clone()
        static_lam = torch.tensor(float(lam), device=self.device)
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step(static_idx, static_lam if lam < 1 else 1.0, cache=False)
        return graph, static_idx, static_lam

    def _step(self, idx: torch.Tensor, lam, cache: bool) -> None:
        """Forward, objective, backward, optimizer step and the device-side totals."""
        d, objective, settings = self.data, self.cfg.objective, self.cfg.attention
        x = normalize(d.images[idx].to(self.device, non_blocking=True))
        with_term = isinstance(lam, torch.Tensor) or lam < 1
        second = with_term and objective.second_pass is not None
        if objective.heat == INPUT_GRADIENT and with_term:
            x.requires_grad_(True)
        y = d.labels[idx].to(self.device, non_blocking=True)
        boxes = d.boxes[idx].to(self.device, non_blocking=True)
        masks = d.lung_masks[idx].to(self.device, non_blocking=True)
        if second:
            regions = invariance.invariance_regions(settings, y, self.kinds, boxes, masks, x.shape[-1])
            x = torch.cat([x, function(objective.second_pass)(x, y, regions, settings)])
        if self.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        pooled_needed = second and settings.features == "pooled"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=cache), \
                capture(self.layer) as seen, \
                (capture_input(self.model.get_classifier()) if pooled_needed else contextlib.nullcontext([])) as pooled:
            logits = self.model(x)
        if second:
            features = pooled[-1] if pooled_needed else seen[-1]
            parts = invariance.objective_loss(objective, logits.float(), features, y, lam, settings)
            logits = logits[: len(y)]
        else:
            parts = attention.objective_loss(
                objective, logits.float(), seen[-1] if with_term else None, y,
                lambda labels: target_regions(settings.region, boxes, self.kinds[labels], x.shape[-1], masks),
                lam, self.cfg.thresh, settings, inputs=x)
        parts.loss.backward()
        self.opt.step()
        n = len(idx)
        self.totals += torch.stack([parts.loss.detach() * n, parts.ce * n, parts.att * n,
                                    (logits.argmax(1) == y).sum()]).double()
        frac = parts.in_region.detach()
        known = ~frac.isnan()
        self.in_region += torch.stack([torch.where(known, frac, 0).sum(), known.sum()]).double()
