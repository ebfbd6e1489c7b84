"""Typed configuration: dataclasses built from the validated config's sections.

Snakemake validates the whole config against ``config/schema.yaml`` before any job; each
CLI subcommand receives the sections it needs (inline JSON, or a YAML/JSON file when run
by hand) and builds its dataclasses here, so an unknown key is named, never ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from .errors import CxrlocError

T = TypeVar("T")


class ConfigError(CxrlocError, ValueError):
    pass


SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"  # the one home of every default


@functools.cache
def schema() -> dict:
    """``config/schema.yaml`` of the checkout the package is installed from (``pip install -e``)."""
    if not SCHEMA.is_file():
        raise ConfigError(f"{SCHEMA} not found: cxrloc reads every key's default from the repository's "
                          "config/schema.yaml; install the package from a checkout with pip install -e")
    return yaml.safe_load(SCHEMA.read_text())


def default_of(key: str):
    """The schema's default of a config key (``train.epochs``, ``device``)."""
    node = schema()
    for part in key.split("."):
        node = node["properties"][part]
    return node["default"]


def _field(value):
    """A schema default as a dataclass default: lists become tuples, mappings a fresh copy each time."""
    if isinstance(value, list):
        return tuple(_field(v) for v in value)
    if isinstance(value, dict):
        return field(default_factory=lambda: dict(value))
    return value


def from_schema(section: str, **keys: str):
    """Under ``@dataclass``: every field without a default of its own (one that is no config key)
    takes the schema's default of ``section.<field>``, or of the key ``keys`` names for it; the
    class remembers where (``schema_keys``), for the test that holds the two together."""
    def fill(cls):
        own = {name for name in cls.__annotations__ if name in vars(cls)}
        cls.schema_keys = {name: keys.get(name, f"{section}.{name}") for name in cls.__annotations__ if name not in own}
        for name, key in cls.schema_keys.items():
            setattr(cls, name, _field(default_of(key)))
        return cls
    return fill


@dataclass(frozen=True)
@from_schema("train", device="device", weights="weights")
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    lr_factor: float
    lr_patience: int
    min_lr: float
    early_stop: int
    reset_early_stop: bool
    pretrained: bool
    cam_layer: str | dict[str, str] | None  # one layer for every backbone, or one per backbone
    channels_last: bool | None  # channels-last memory; None: on CUDA only
    cuda_graph: bool  # on CUDA, replay the step as a CUDA graph (false: the eager step)
    threads: int
    patients: float  # share of the training split's patients (cxrloc.train.subset)
    device: str  # the top-level key: where every job runs
    weights: dict[str, str]  # the top-level key: local pretrained weights per backbone
    warmup_epochs: int = 0  # no config key: the run's cross-entropy epochs, from its λ token (0.5w2)


@dataclass(frozen=True)
@from_schema("attention")
class AttentionConfig:
    mode: str  # an objective of cxrloc.objectives
    tau: float
    cam_target: str
    first_order: bool
    region: str
    weight: float
    invariance_region: str  # actdiff, swap: the task's target region, or the lung mask ("lungs")
    fill: str  # what replaces the outside of the region (actdiff, masked): zero, mean or blur
    features: str  # actdiff compares the classifier's input ("pooled") or the CAM layer's output ("cam")
    swap_kl: float  # swap: weight of the KL divergence between the predictions on x and on x_swap
    mask_margin: float  # masked: the lung mask grown by this fraction of the image side


@dataclass(frozen=True)
@from_schema("unet")
class UNetConfig:
    encoder: str
    decoder_channels: tuple[int, ...]  # deepest first; (128, 64, 32, 16, 8) about halves a CPU step
    image_size: int
    epochs: int
    batch_size: int
    lr: float
    held_out: float
    seed: int
    max_images: int | None
    mask_suffix: str
    augment: bool  # small affine, brightness/contrast/gamma, blur and noise (cxrloc.lungs.augment)
    opacities: float  # with augment: share of training films given a basal opacity, their masks kept
    postprocess: bool  # keep the two largest components and fill holes, in the report as in the masks
    progressive: tuple[tuple[int, int], ...]  # [size, epochs] stages at smaller sizes, before `epochs` at image_size

    def __post_init__(self) -> None:
        sizes = [size for size, _ in self.progressive]
        if sizes != sorted(set(sizes)) or any(size >= self.image_size for size in sizes):
            raise ConfigError(f"unet.progressive: sizes {sizes} must rise and stay below unet.image_size "
                              f"{self.image_size}")


@dataclass(frozen=True)
@from_schema("source.synthetic")
class SyntheticConfig:
    """What to draw: cohort size, finding mix, image size, lesion contrast, confounder."""

    patients: int
    max_images_per_patient: int
    image_size: int
    lesion_contrast: float
    confounder_rate: float | None
    marker_placement: str  # corner, or lung (upper lung field)
    shifted_fraction: float
    multi_label_rate: float
    finding_weights: dict[str, float]
    seed: int


@dataclass(frozen=True)
@from_schema("source.implanted.effusion")
class EffusionConfig:
    height: tuple[float, float]  # fluid level above the lung's lowest row, share of the lung's height
    meniscus: tuple[float, float]  # how much higher the surface climbs at the lateral wall
    density: tuple[float, float]  # blend toward white inside the fluid
    blur: float  # soft edge: Gaussian sigma as a share of the image side
    each_lung: float  # probability that a lung holds fluid (at least one does)


@dataclass(frozen=True)
@from_schema("source.implanted")
class ImplantedConfig:
    image_size: int
    variants: int  # per film, each drawn afresh
    positive_rate: float
    confounder_rate: float
    marker_placement: str  # of the square
    folds: dict[str, float]
    effusion: EffusionConfig
    seed: int
    confounder: str  # a kind of cxrloc.data.cues

    def __post_init__(self) -> None:
        if not isinstance(self.effusion, EffusionConfig):
            effusion = {k: tuple(v) if isinstance(v, list) else v for k, v in self.effusion.items()}
            object.__setattr__(self, "effusion", build(EffusionConfig, effusion, "source.implanted.effusion"))
        missing = {"train", "val", "test"} - set(self.folds)
        if missing:
            raise ConfigError(f"source.implanted.folds: no share for {', '.join(sorted(missing))}")


def schema_error(cfg: dict) -> str | None:
    """The config's most telling violation of the JSON schema as one line naming its key, or None
    (Snakemake's own message prints the whole schema)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(cfg))
    if error is None:
        return None
    message = error.message
    parent = error.parent  # of a value that fits none of several forms, say what each form is, not one's complaint
    if parent is not None and parent.validator in ("oneOf", "anyOf") and "description" in parent.schema:
        error, message = parent, f"{parent.instance!r} is not {parent.schema['description']}"
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"config key {key}: {message}" if key else f"config: {message}"


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
    text = path.read_text() if is_file else text_or_path
    try:
        value = json.loads(text)  # what the workflow passes; YAML 1.1 would read JSON's 1e-10 as a string
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not YAML or JSON ({' '.join(str(e).split())})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: a mapping of config sections (train:, attention:, ...) expected, "
                          f"got a {type(value).__name__}")
    return value


def section(cfg: dict, name: str) -> dict:
    """A copy of the config's section ``name`` (dotted for a nested one), checked against the
    schema (a section given by hand is held to it as Snakemake holds a config); absent or empty:
    {}; a bad key or value is an error naming it."""
    import jsonschema

    value = cfg
    for key in name.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    value = value or {}
    node = schema()
    for key in name.split("."):
        node = node["properties"][key]
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(node).iter_errors(value))
    if error is not None:
        where = ".".join([name, *map(str, error.absolute_path)])
        raise ConfigError(f"{where}: {error.message}")
    return dict(value)


def train_config(cfg: dict) -> TrainConfig:
    """The train section, with the top-level ``device`` (the one key that says where work runs)
    and ``weights``."""
    if isinstance(cfg.get("train"), dict) and "device" in cfg["train"]:
        raise ConfigError("train.device: set the top-level key device instead (it decides both where a job "
                          "runs and whether the cluster gives it a GPU)")
    train = section(cfg, "train")
    train["device"] = cfg.get("device", default_of("device"))
    if "weights" in cfg:
        train["weights"] = cfg["weights"] or {}
    return build(TrainConfig, train, "train")


def attention_config(cfg: dict) -> AttentionConfig:
    return build(AttentionConfig, section(cfg, "attention"), "attention")


def unet_config(cfg: dict) -> UNetConfig:
    paths = ("checkpoint", "images", "masks", "labels", "encoder_weights")  # read by the rules, not the U-Net
    unet = {k: v for k, v in section(cfg, "unet").items() if k not in paths}
    return build(UNetConfig, unet, "unet")


def synthetic_config(cfg: dict) -> SyntheticConfig:
    return build(SyntheticConfig, section(cfg, "source.synthetic"), "source.synthetic")


def implanted_config(cfg: dict) -> ImplantedConfig:
    return build(ImplantedConfig, section(cfg, "source.implanted"), "source.implanted")
