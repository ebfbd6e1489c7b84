"""The run as one typed record: what a training job is (dataset, task, backbone, λ schedule,
threshold, seed, training and attention settings) and the fingerprint of its result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from .. import __version__
from ..config import AttentionConfig, TrainConfig
from ..schedule import Schedule
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

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.lam, self.train.warmup_epochs)

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """The spec a checkpoint keeps (``asdict``) as a ``RunSpec`` again."""
        task = Task(d["task"]["name"], tuple(d["task"]["classes"]), tuple(d["task"]["regions"]))
        return cls(d["dataset"], task, d["backbone"], d["lam"], d["thresh"], d["seed"], TrainConfig(**d["train"]),
                   AttentionConfig(**d["attention"]))

    def fingerprint(self, inputs: dict[str, str]) -> str:
        """What the run's result depends on: its settings (but the CPU thread count, which a rerun
        with another ``--cores`` changes), the identity of its inputs (split table, image cache,
        lung cache) and the package version."""
        spec = asdict(self)
        del spec["train"]["threads"]
        payload = {"spec": spec, "inputs": inputs, "version": __version__}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
