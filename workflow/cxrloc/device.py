"""Device choice: CUDA only when asked for, and never a silent fall-back to the CPU."""

from __future__ import annotations

import torch


def resolve(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; CUDA that is not there is an error, not a fallback."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} was asked for but CUDA is not available here; "
            "set device: cpu in the config to run on the CPU (slow for the full study)"
        )
    return torch.device(name)
