"""Device choice: CUDA only when asked for, never a silent fall-back to the CPU, and one GPU
per job on a workstation with several."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CxrlocError

if TYPE_CHECKING:
    import torch


class DeviceError(CxrlocError, RuntimeError):
    pass


def resolve(name: str, fix: str = "set device: cpu in the config") -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; CUDA that is not there is an error, not a fallback. ``fix`` says
    how the caller's user asks for the CPU (a config key, or a command's flag)."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for but CUDA is not available here; {fix} to run on the CPU")
    return torch.device(name)


def lock_dir() -> Path:
    return Path(os.environ.get("CXRLOC_GPU_LOCKS", Path(tempfile.gettempdir()) / "cxrloc-gpu-locks"))


@contextmanager
def gpu_slot(name: str, poll: float = 5.0, fix: str = "set device: cpu in the config") -> Iterator[torch.device]:
    """The device to run on, held for the duration of the block.

    With plain ``cuda`` on a machine with several GPUs and no ``CUDA_VISIBLE_DEVICES`` (no
    scheduler chose one), each job takes the first GPU whose lock file is free, and waits
    while all are taken; run Snakemake with ``--resources gpu=N`` to start N jobs at once.
    Under SLURM, ``CUDA_VISIBLE_DEVICES`` names the job's GPU and ``cuda`` is that one. Every job
    that uses a GPU (training, evaluation, the U-Net's training and inference, ``predict``) runs in
    one; ``fix`` as for ``resolve``.
    """
    import torch

    device = resolve(name, fix)
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if name != "cuda" or os.environ.get("CUDA_VISIBLE_DEVICES") is not None or count < 2:
        yield device
        return
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for i in range(count):
            with open(folder / f"gpu{i}.lock", "w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield torch.device(f"cuda:{i}")
                    return
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        time.sleep(poll)
