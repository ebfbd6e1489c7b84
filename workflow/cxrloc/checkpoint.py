"""Reading checkpoints this project wrote: plain tensors, numbers and strings only (no pickled
code runs); a missing, truncated, crafted or foreign file is one error naming it."""

from __future__ import annotations

from pathlib import Path

from .errors import CxrlocError


class CheckpointError(CxrlocError, RuntimeError):
    pass


def _cause(error: Exception) -> str:
    """Why torch could not read the file, without torch's advice to load it as a trusted pickle."""
    text = str(error)
    if "Weights only load failed" in text:
        return "it holds objects other than tensors, numbers and strings, and cxrloc never runs pickled code"
    return text.splitlines()[0] if text else type(error).__name__


def load_checkpoint(path: Path, what: str = "checkpoint") -> dict:
    """The checkpoint at ``path`` as a dict, on the CPU; ``what`` names it in errors."""
    import torch

    if not Path(path).is_file():
        raise CheckpointError(f"{what} {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        raise CheckpointError(f"corrupt or foreign {what} {path}: {_cause(e)}; delete it or write it again") from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"corrupt or foreign {what} {path}: it holds a {type(ckpt).__name__}, not cxrloc's record")
    return ckpt
