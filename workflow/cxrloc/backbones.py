"""Backbone registry: one record per model (its timm name, Grad-CAM layer, table label, the
paper's key and relative step time); no torch, so planning can read it. Any other timm model
name works too (``record``): only such a name makes planning import timm, to check it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .errors import UnknownName


@dataclass(frozen=True)
class Backbone:
    timm_name: str
    cam_layer: str | None  # None: the model's last feature stage (timm's feature_info)
    label: str
    kwargs: dict = field(default_factory=dict)
    paper_key: str | None = None  # the backbone's name in the paper's tables
    relative_step: float = 1.0  # step time relative to the costliest paper backbone (cluster runtimes)
    note: str = ""
    cam_stride: int | None = None  # the Grad-CAM layer's downsampling (None: known only by running the model)
    cam_floor: bool = False  # its map is ⌊side / stride⌋ cells a side (pooling), else ⌈side / stride⌉ (padded convs)

    def cam_cells(self, size: int) -> int:
        """Cells along a side of the Grad-CAM layer's map at ``size`` px (a record with ``cam_stride``)."""
        return size // self.cam_stride if self.cam_floor else -(-size // self.cam_stride)

    def min_size(self) -> int | None:
        """The least image side at which the Grad-CAM map has ``MIN_CAM_CELLS`` cells a side."""
        if self.cam_stride is None:
            return None
        return MIN_CAM_CELLS * self.cam_stride if self.cam_floor else (MIN_CAM_CELLS - 1) * self.cam_stride + 1


# A Grad-CAM map of one cell is min-max normalized to zero: every map term is then constant and has
# no gradient. Two cells a side is the least at which a half-lung region (about a third of the film's
# side) differs from its outside (docs/method.md §5).
MIN_CAM_CELLS = 2


# Relative step times measured on an H100 (bench/results/attention_step_h100.json): pvt_v2_b2_li
# 54 ms, vgg16 34 ms, resnet50 24 ms per step; unmeasured backbones count as the costliest.
REGISTRY: dict[str, Backbone] = {
    "pvt_v2_b2_li": Backbone("pvt_v2_b2_li", "stages.3", "PVT", paper_key="pvt", note="the paper's PVT-v2",
                             cam_stride=32),
    "vgg16.tv_in1k": Backbone("vgg16.tv_in1k", "features.28", "VGG16", paper_key="vgg16", relative_step=0.63,
                              note="the paper's VGG16; features[28] is its last conv", cam_stride=16, cam_floor=True),
    "resnet50.tv_in1k": Backbone("resnet50.tv_in1k", "layer4.2", "ResNet50", paper_key="resnet50", relative_step=0.44,
                                 note="the paper's ResNet50; layer4[-1]", cam_stride=32),
    "pvt_v2_b0": Backbone("pvt_v2_b0", "stages.3", "PVT-v2-b0", note="CPU-sized PVT-v2", cam_stride=32),
    "resnet18": Backbone("resnet18", "layer4.1", "ResNet18", note="CPU-sized ResNet", cam_stride=32),
    "resnet_tiny": Backbone("test_resnet", "layer4", "ResNet-tiny",
                            note="timm's 0.4M-parameter test ResNet: CPU benchmarks", cam_stride=32),
    "vgg11": Backbone("vgg11", "features.18", "VGG11", {"mlp_ratio": 1 / 16},
                      note="CPU-sized VGG: slim classifier head (mlp_ratio 1/16: 17M parameters instead of 129M)",
                      cam_stride=16, cam_floor=True),
}
ALIASES = {"pvt": "pvt_v2_b2_li", "vgg": "vgg16.tv_in1k", "resnet": "resnet50.tv_in1k"}
PAPER_LABELS = {b.paper_key: b.label for b in REGISTRY.values() if b.paper_key}


def canonical(name: str) -> str:
    """The registry name of a backbone or alias, or a timm model name as given; an unknown name
    is an error suggesting the closest valid names."""
    name = ALIASES.get(name, name)
    if name in REGISTRY or _in_timm(name):
        return name
    import timm

    known = dict.fromkeys([*REGISTRY, *ALIASES, *timm.list_models()])  # a registry name is a timm name too: once
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UnknownName(f"unknown backbone {name!r}; {hint}valid: the registry ({', '.join(sorted(REGISTRY))}), "
                   f"its aliases ({', '.join(sorted(ALIASES))}) or any timm model name (timm.list_models())")


def _in_timm(name: str) -> bool:
    import timm  # only for a name outside the registry

    return timm.is_model(name)


def record(name: str) -> Backbone:
    """A backbone's record; a timm model outside the registry gets its name as timm name and
    label, its last feature stage as Grad-CAM layer and the costliest step time."""
    name = canonical(name)
    return REGISTRY.get(name) or Backbone(name, None, name, note="a timm model outside the registry")


def label(name: str) -> str:
    """A backbone's table label (registry name, alias or the paper's key); other names as given."""
    if name in PAPER_LABELS:
        return PAPER_LABELS[name]
    entry = REGISTRY.get(ALIASES.get(name, name))
    return entry.label if entry else name
