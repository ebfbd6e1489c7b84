"""The run as one typed record: what a training job is (dataset, task, backbone, λ schedule,
threshold, seed, objective, training and attention settings), built and checked in one place
(``resolve_run``), and the fingerprint of its result."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass

from .. import __version__, config, objectives
from ..config import AttentionConfig, ConfigError, TrainConfig
from ..objectives import Objective
from ..schedule import ADAPTIVE, Schedule
from ..tasks import Task


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    task: Task
    backbone: str
    lam: float | str
    thresh: float
    seed: int
    train: TrainConfig = TrainConfig()
    attention: AttentionConfig = AttentionConfig()
    objective: Objective | None = None  # None: the objective attention.mode names

    def __post_init__(self):
        if self.objective is None:
            object.__setattr__(self, "objective", objectives.get(self.attention.mode))

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.lam, self.train.warmup_epochs)

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """The spec a checkpoint keeps (``asdict``) as a ``RunSpec`` again."""
        task = Task(d["task"]["name"], tuple(d["task"]["classes"]), tuple(d["task"]["regions"]))
        objective = objectives.get((d.get("objective") or {}).get("name") or d["attention"]["mode"])  # older: mode
        return cls(d["dataset"], task, d["backbone"], d["lam"], d["thresh"], d["seed"], TrainConfig(**d["train"]),
                   AttentionConfig(**d["attention"]), objective)

    def fingerprint(self, inputs: dict[str, str]) -> str:
        """What the run's result depends on: its settings (but the CPU thread count, which a rerun
        with another ``--cores`` changes), the identity of its inputs (split table, image cache,
        lung cache) and the package version."""
        spec = asdict(self)
        del spec["train"]["threads"]
        payload = {"spec": spec, "inputs": inputs, "version": __version__}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resolve_run(dataset: str, task: Task, backbone: str, lam: str, thresh: float, seed: int, settings: dict,
                objective: str | None = None, adaptive: bool = False, warmup: int = 0, **train) -> RunSpec:
    """The run these name, checked: ``lam`` is λ (``0.5``, ``adaptive``; ``0.5w2``, the run-name form,
    also carries a warm-up), ``warmup`` the cross-entropy epochs before it, ``settings`` the study's
    config sections, ``objective`` a registry name (default: ``attention.mode``), ``train`` overrides
    of ``TrainConfig`` fields. Each error names what to change."""
    try:
        schedule = Schedule.parse(lam)
    except ValueError as e:
        raise ConfigError(f"λ {lam}: {e}") from None
    if warmup and schedule.warmup:
        raise ConfigError(f"λ {lam} carries a warm-up, and a warm-up of {warmup} was given too: give one")
    if warmup:
        schedule = schedule.warmed(warmup)
    if adaptive:
        schedule = dataclasses.replace(schedule, lam=ADAPTIVE)
    attention = config.attention_config(settings)
    chosen = objectives.get(objective or attention.mode)
    if chosen.baseline and not schedule.cross_entropy:
        raise ConfigError(f"objective {chosen.name} is cross-entropy only: it needs λ 1, not {lam}")
    train_cfg = dataclasses.replace(config.train_config(settings), **train, warmup_epochs=schedule.warmup)
    if schedule.warmed_through(train_cfg.epochs):
        raise ConfigError(f"λ {schedule.token}: a warm-up of {schedule.warmup} epochs leaves none of train.epochs "
                          f"({train_cfg.epochs}) for the objective")
    error = objectives.batch_size_error([chosen.name], train_cfg.batch_size)
    if error:
        raise ConfigError(error)
    return RunSpec(dataset, task, backbone, schedule.lam, thresh, seed, train_cfg, attention, chosen)
