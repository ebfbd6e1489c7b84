"""A backbone as a timm model, with the module whose output Grad-CAM reads."""

from __future__ import annotations

import timm
import torch.nn as nn

from ..backbones import record
from ..errors import CxrlocError, UnknownName


class PretrainedWeightsUnavailable(CxrlocError, RuntimeError):
    pass


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
    """``(model, cam_layer_module)`` for a backbone of the registry or any timm model name.

    The Grad-CAM layer is ``cam_layer``, else the record's, else the model's last feature stage
    (timm's ``feature_info``). In-place activations are turned off so that the CAM layer's
    output is not overwritten by the ReLU that follows it.
    """
    spec = record(name)
    overlay = _local_weights(spec.timm_name, weights_file) if pretrained else None
    try:
        model = timm.create_model(spec.timm_name, pretrained=pretrained, num_classes=num_classes,
                                  pretrained_cfg_overlay=overlay, **spec.kwargs)
    except Exception as e:  # noqa: BLE001 - with a weights file, any load failure means a wrong or broken file
        if overlay is None:
            raise
        raise PretrainedWeightsUnavailable(f"cannot load the pretrained weights {overlay['file']} into {name!r}: "
                                           f"{str(e).splitlines()[0]}; write the file with `cxrloc fetch-weights "
                                           f"--backbone {name} --out FILE`") from None
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    layer = cam_layer or spec.cam_layer or _last_stage(model, name)
    try:
        return model, model.get_submodule(layer)
    except AttributeError:
        raise UnknownName(f"{name!r} has no layer {layer!r} for Grad-CAM (train.cam_layer); its top-level modules: "
                            f"{', '.join(n for n, _ in model.named_children())}") from None


def _last_stage(model: nn.Module, name: str) -> str:
    """The module of the model's last feature stage, as timm's ``feature_info`` names it."""
    info = getattr(model, "feature_info", None)
    if not info:
        raise UnknownName(f"{name!r} has no feature_info to take its Grad-CAM layer from: set train.cam_layer "
                       f"(its top-level modules: {', '.join(n for n, _ in model.named_children())})")
    return info[-1]["module"]
