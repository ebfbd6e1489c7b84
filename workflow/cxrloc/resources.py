"""Cluster resources of a training job, scaled from the config.

``resources.train_runtime`` (minutes) and ``resources.train_mem_mb`` are what one job of the
paper's costliest backbone needs for 100 epochs at 224 px; a job's request scales them by
its backbone's relative step time (measured on an H100, ``bench/results/attention_step_h100.json``:
pvt_v2_b2_li 54 ms, vgg16 34 ms, resnet50 24 ms per step), by the image area and, for the
runtime, by the number of epochs. Unmeasured backbones count as the costliest.
"""

from __future__ import annotations

import math

RELATIVE_STEP = {"pvt_v2_b2_li": 1.0, "vgg16.tv_in1k": 0.63, "resnet50.tv_in1k": 0.44}


def train_runtime(base_minutes: int, backbone: str, image_size: int, epochs: int) -> int:
    scale = RELATIVE_STEP.get(backbone, 1.0) * (image_size / 224) ** 2 * epochs / 100
    return max(10, math.ceil(base_minutes * scale))


def train_mem_mb(base_mb: int, image_size: int, attempt: int = 1) -> int:
    """Memory grows with the image area, and with each retry of a job that failed."""
    return max(2000, math.ceil(base_mb * (image_size / 224) ** 2)) * attempt
