"""Typed configuration: dataclasses built from the validated config's sections.

Snakemake validates the whole config against ``config/schema.yaml`` before any job; each
CLI subcommand receives the sections it needs (inline JSON, or a YAML/JSON file when run
by hand) and builds its dataclasses here, so an unknown key is named, never ignored.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypeVar

import yaml

from .attention import AttentionConfig
from .errors import CxrlocError
from .synthetic import SyntheticConfig
from .train import TrainConfig
from .unet import UNetConfig

T = TypeVar("T")


class ConfigError(CxrlocError, ValueError):
    pass


def build(cls: type[T], section: dict | None, where: str) -> T:
    """``cls(**section)``; an unknown key is an error that names it and its section."""
    section = section or {}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; valid: {', '.join(sorted(names))}")
    return cls(**section)


def load(text_or_path: str) -> dict:
    """A config given inline (JSON or YAML) or as a file path."""
    path = Path(text_or_path)
    if path.suffix in {".yaml", ".yml", ".json"} and path.exists():
        return yaml.safe_load(path.read_text()) or {}
    return yaml.safe_load(text_or_path) or {}


def train_config(cfg: dict) -> TrainConfig:
    """The train section, with the top-level ``device`` (the one key that says where work runs)
    and ``weights``."""
    section = dict(cfg.get("train") or {})
    if "device" in section:
        raise ConfigError("train.device: set the top-level key device instead (it decides both where a job "
                          "runs and whether the cluster gives it a GPU)")
    section["device"] = cfg.get("device", "cpu")
    if "weights" in cfg:
        section["weights"] = cfg["weights"] or {}
    return build(TrainConfig, section, "train")


def attention_config(cfg: dict) -> AttentionConfig:
    return build(AttentionConfig, cfg.get("attention"), "attention")


def unet_config(cfg: dict) -> UNetConfig:
    section = {k: v for k, v in (cfg.get("unet") or {}).items() if k not in ("checkpoint", "images", "masks", "postprocess")}
    return build(UNetConfig, section, "unet")


def synthetic_config(cfg: dict) -> SyntheticConfig:
    return build(SyntheticConfig, (cfg.get("source") or {}).get("synthetic"), "source.synthetic")
