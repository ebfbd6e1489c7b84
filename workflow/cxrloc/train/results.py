"""A run's ``metrics.json``, typed, and its ``cams.npz``: the one reader of each, used by tables,
figures and the shortcut report; a missing key or another schema is an error naming the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..arrays import load_arrays
from ..errors import CxrlocError
from ..schedule import Schedule

SCHEMA_VERSION = 2  # 2: run.classes


class ResultError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class RunInfo:
    dataset: str
    task: str
    classes: tuple[str, ...]  # the task's, in label order
    backbone: str
    lam: str  # the schedule's key: "1", "0.5", "adaptive"
    thresh: float
    seed: int
    objective: str
    warmup: int
    best_epoch: int | None
    patients: float = 1.0  # the share of the training patients it trained on (train.patients)

    @property
    def schedule(self) -> Schedule:
        return Schedule.parse(self.lam).warmed(self.warmup)

    @property
    def variant(self) -> str:
        """The objective with its warm-up: ``outside``, ``outside_w2``."""
        return self.objective + (f"_w{self.warmup}" if self.warmup else "")

    def row(self) -> dict:
        """As a table row: the λ key under ``lambda``."""
        return {"dataset": self.dataset, "task": self.task, "classes": self.classes, "backbone": self.backbone,
                "lambda": self.lam,
                "thresh": self.thresh, "seed": self.seed, "objective": self.objective, "warmup": self.warmup,
                "best_epoch": self.best_epoch, "variant": self.variant}


@dataclass(frozen=True)
class SplitResult:
    n: int
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    proba: list | None = None  # positive-class probabilities (test only)
    labels: list[int] | None = None


@dataclass(frozen=True)
class RunResult:
    path: Path
    run: RunInfo
    splits: dict[str, SplitResult]  # val, test and, where the set has one, test_iid
    localization: dict | None = None
    localization_boxes: dict | None = None
    shortcut: dict | None = None
    external: str | None = None  # the external test set this file evaluates the run on (its only split: test)

    @property
    def cams(self) -> Path:
        """The run's CAM examples, written beside its metrics."""
        return self.path.with_name("cams.npz")

    def metric(self, split: str, name: str, default: float = float("nan")) -> float:
        part = self.splits.get(split)
        return part.metrics.get(name, default) if part else default


def read_result(path: Path | str) -> RunResult:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ResultError(f"cannot read run results {path}: {e}") from e
    if raw.get("schema") != SCHEMA_VERSION:
        raise ResultError(f"{path}: schema {raw.get('schema')!r}, expected {SCHEMA_VERSION}; rerun its evaluate job")
    try:
        run = raw["run"]
        info = RunInfo(run["dataset"], run["task"], tuple(run["classes"]), run["backbone"], run["lambda"], float(run["thresh"]),
                       int(run["seed"]), run.get("objective") or run["mode"], int(run.get("warmup") or 0), run.get("best_epoch"),
                       float(run.get("patients", 1.0)))
        splits = {name: SplitResult(raw[name]["n"], raw[name]["metrics"], raw[name]["ci95"], raw[name].get("proba"),
                                    raw[name].get("labels"))
                  for name in ("val", "test", "test_iid") if raw.get(name)}
    except KeyError as e:
        raise ResultError(f"{path}: missing key {e.args[0]!r}; rerun its evaluate job") from None
    for name in ("test",) if raw.get("external") else ("val", "test"):
        if name not in splits:
            raise ResultError(f"{path}: no {name!r} results; rerun its evaluate job")
    return RunResult(path, info, splits, raw.get("localization"), raw.get("localization_boxes"), raw.get("shortcut"),
                     raw.get("external"))


def read_cams(path: Path) -> dict:
    """A run's ``cams.npz``: test image names, their CAMs and the images the model saw."""
    return load_arrays(path, ("image", "cam", "seen"))
