"""Typed configuration: dataclasses built from the validated config's sections.

Snakemake validates the whole config against ``config/schema.yaml`` before any job; each
CLI subcommand receives the sections it needs (inline JSON, or a YAML/JSON file when run
by hand) and builds its dataclasses here, so an unknown key is named, never ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from .errors import CxrlocError

T = TypeVar("T")


class ConfigError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-5
    lr_factor: float = 0.1
    lr_patience: int = 10
    min_lr: float = 1e-10
    early_stop: int = 30
    reset_early_stop: bool = True
    warmup_epochs: int = 0
    pretrained: bool = False
    cam_layer: str | dict[str, str] | None = None  # one layer for every backbone, or one per backbone
    channels_last: bool | None = None  # channels-last memory; None: on CUDA only
    cuda_graph: bool = True  # on CUDA, replay the step as a CUDA graph (false: the eager step)
    device: str = "cpu"
    threads: int = 1
    weights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AttentionConfig:
    mode: str = "soft"  # an objective of cxrloc.objectives
    tau: float = 0.1
    cam_target: str = "predicted"
    first_order: bool = False
    region: str = "box"
    weight: float = 1.0
    invariance_region: str = "target"  # actdiff, swap: the task's target region, or the lung mask ("lungs")
    fill: str = "blur"  # what replaces the outside of the region (actdiff, masked): zero, mean or blur
    features: str = "pooled"  # actdiff compares the classifier's input ("pooled") or the CAM layer's output ("cam")
    swap_kl: float = 0.0  # swap: weight of the KL divergence between the predictions on x and on x_swap
    mask_margin: float = 0.05  # masked: the lung mask grown by this fraction of the image side


@dataclass(frozen=True)
class UNetConfig:
    encoder: str = "resnet18"
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)  # smp's default; (128, 64, 32, 16, 8) halves a CPU step
    image_size: int = 128
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    held_out: float = 0.2
    seed: int = 0
    max_images: int | None = None
    mask_suffix: str = ""
    augment: bool = True  # small affine, brightness/contrast/gamma, blur and noise (cxrloc.augment)
    opacities: float = 0.5  # with augment: share of training films given a basal opacity, their masks kept
    postprocess: bool = False  # keep the two largest components and fill holes, in the report as in the masks
    # progressive resizing: [size, epochs] stages at smaller sizes, trained before `epochs` at image_size
    progressive: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        sizes = [size for size, _ in self.progressive]
        if sizes != sorted(set(sizes)) or any(size >= self.image_size for size in sizes):
            raise ConfigError(f"unet.progressive: sizes {sizes} must rise and stay below unet.image_size "
                              f"{self.image_size}")


def schema_error(cfg: dict, schema: Path) -> str | None:
    """The config's most telling violation of the JSON schema as one line naming its key, or None
    (Snakemake's own message prints the whole schema)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(yaml.safe_load(Path(schema).read_text()))
    error = jsonschema.exceptions.best_match(validator.iter_errors(cfg))
    if error is None:
        return None
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"config key {key}: {error.message}" if key else f"config: {error.message}"


def build(cls: type[T], section: dict | None, where: str) -> T:
    """``cls(**section)``; an unknown key is an error that names it and its section."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; valid: {', '.join(sorted(names))}")
    return cls(**section)


def load(text_or_path: str, where: str = "--settings") -> dict:
    """A config given inline (JSON or YAML) or as a file path; anything but a mapping is an error
    naming ``where`` (and the file)."""
    path = Path(text_or_path)
    is_file = path.suffix in {".yaml", ".yml", ".json"}
    if is_file and not path.is_file():
        raise ConfigError(f"{where}: {path} not found")
    source = f"{where} {path}" if is_file else where
    try:
        value = yaml.safe_load(path.read_text() if is_file else text_or_path)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not YAML or JSON ({' '.join(str(e).split())})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: a mapping of config sections (train:, attention:, ...) expected, "
                          f"got a {type(value).__name__}")
    return value


def section(cfg: dict, name: str) -> dict:
    """A copy of the config's section ``name`` (dotted for a nested one); absent or empty: {}; not
    a mapping: an error naming it."""
    value = cfg
    for key in name.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    value = value or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: a mapping of keys expected, got {value!r}")
    return dict(value)


def train_config(cfg: dict) -> TrainConfig:
    """The train section, with the top-level ``device`` (the one key that says where work runs)
    and ``weights``."""
    train = section(cfg, "train")
    if "device" in train:
        raise ConfigError("train.device: set the top-level key device instead (it decides both where a job "
                          "runs and whether the cluster gives it a GPU)")
    train["device"] = cfg.get("device", "cpu")
    if "weights" in cfg:
        train["weights"] = cfg["weights"] or {}
    return build(TrainConfig, train, "train")


def attention_config(cfg: dict) -> AttentionConfig:
    return build(AttentionConfig, section(cfg, "attention"), "attention")


def unet_config(cfg: dict) -> UNetConfig:
    paths = ("checkpoint", "images", "masks", "labels", "encoder_weights")  # read by the rules, not the U-Net
    unet = {k: v for k, v in section(cfg, "unet").items() if k not in paths}
    return build(UNetConfig, unet, "unet")


def synthetic_config(cfg: dict):
    from .data.synthetic import SyntheticConfig

    return build(SyntheticConfig, section(cfg, "source.synthetic"), "source.synthetic")


def implanted_config(cfg: dict):
    from .data.implanted import ImplantedConfig

    return build(ImplantedConfig, section(cfg, "source.implanted"), "source.implanted")
