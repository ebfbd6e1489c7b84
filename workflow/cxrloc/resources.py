"""Cluster resources of a training job, scaled from the config.

``resources.train_runtime`` (minutes) and ``resources.train_mem_mb`` are what one job of the
paper's costliest backbone needs for 100 epochs at 224 px; a job's request scales them by
its backbone's relative step time (``backbones.Backbone.relative_step``), by the image area
and, for the runtime, by the number of epochs.
"""

from __future__ import annotations

import math

from .backbones import record


def train_runtime(base_minutes: int, backbone: str, image_size: int, epochs: int) -> int:
    scale = record(backbone).relative_step * (image_size / 224) ** 2 * epochs / 100
    return max(10, math.ceil(base_minutes * scale))


def train_mem_mb(base_mb: int, image_size: int, attempt: int = 1) -> int:
    """Memory grows with the image area, and with each retry of a job that failed."""
    return max(2000, math.ceil(base_mb * (image_size / 224) ** 2)) * attempt
