"""Backbone registry: a name → a timm model and the module whose output Grad-CAM reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import timm
import torch.nn as nn

from .errors import CxrlocError


@dataclass(frozen=True)
class Backbone:
    timm_name: str
    cam_layer: str
    kwargs: dict = field(default_factory=dict)
    note: str = ""


REGISTRY: dict[str, Backbone] = {
    "pvt_v2_b2_li": Backbone("pvt_v2_b2_li", "stages.3", note="the paper's PVT-v2"),
    "vgg16.tv_in1k": Backbone("vgg16.tv_in1k", "features.28", note="the paper's VGG16; features[28] is its last conv"),
    "resnet50.tv_in1k": Backbone("resnet50.tv_in1k", "layer4.2", note="the paper's ResNet50; layer4[-1]"),
    "pvt_v2_b0": Backbone("pvt_v2_b0", "stages.3", note="CPU-sized PVT-v2"),
    "resnet18": Backbone("resnet18", "layer4.1", note="CPU-sized ResNet"),
    "resnet_tiny": Backbone("test_resnet", "layer4", note="timm's 0.4M-parameter test ResNet: CPU benchmarks"),
    "vgg11": Backbone(
        "vgg11", "features.18", {"mlp_ratio": 1 / 16},
        note="CPU-sized VGG: slim classifier head (mlp_ratio 1/16: 17M parameters instead of 129M)",
    ),
}
ALIASES = {"pvt": "pvt_v2_b2_li", "vgg": "vgg16.tv_in1k", "resnet": "resnet50.tv_in1k"}
LABELS = {"pvt_v2_b2_li": "PVT", "vgg16.tv_in1k": "VGG16", "resnet50.tv_in1k": "ResNet50",
          "pvt_v2_b0": "PVT-v2-b0", "resnet18": "ResNet18", "vgg11": "VGG11", "resnet_tiny": "ResNet-tiny"}


class PretrainedWeightsUnavailable(CxrlocError, RuntimeError):
    pass


def canonical(name: str) -> str:
    """The registry name of a backbone or alias; the error lists every valid name."""
    name = ALIASES.get(name, name)
    if name not in REGISTRY:
        valid = sorted(REGISTRY) + sorted(ALIASES)
        raise KeyError(f"unknown backbone {name!r}; valid backbones: {', '.join(valid)}")
    return name


def _local_weights(timm_name: str, weights_file: str | None) -> dict:
    """``pretrained_cfg_overlay`` pointing at weights on disk; never touches the network."""
    if weights_file:
        return {"file": weights_file}
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(timm_name)
    hub_id = cfg.hf_hub_id if cfg else None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(hub_id, filename) if hub_id else None
        if isinstance(cached, str):
            return {"file": cached}
    raise PretrainedWeightsUnavailable(
        f"pretrained weights for {timm_name!r} are not on this machine (Hugging Face hub id "
        f"{hub_id!r}, not in the hub cache). Provide them: either run "
        f"`huggingface-cli download {hub_id}` on a machine with network (shared HF_HOME), or "
        f"download the weights file and set weights: {{{timm_name}: /path/to/model.safetensors}} "
        "in the config; or set pretrained: false."
    )


def create(name: str, num_classes: int, pretrained: bool = False, cam_layer: str | None = None,
           weights_file: str | None = None) -> tuple[nn.Module, nn.Module]:
    """``(model, cam_layer_module)`` for a registered backbone.

    In-place activations are turned off so that the CAM layer's output is not
    overwritten by the ReLU that follows it.
    """
    spec = REGISTRY[canonical(name)]
    overlay = _local_weights(spec.timm_name, weights_file) if pretrained else None
    model = timm.create_model(
        spec.timm_name, pretrained=pretrained, num_classes=num_classes,
        pretrained_cfg_overlay=overlay, **spec.kwargs,
    )
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    layer = cam_layer or spec.cam_layer
    try:
        return model, model.get_submodule(layer)
    except AttributeError:
        raise KeyError(f"{name!r} has no layer {layer!r} for Grad-CAM; its top-level modules: "
                       f"{', '.join(n for n, _ in model.named_children())}") from None
