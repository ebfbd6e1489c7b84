"""Content digests: of a file, of a folder written once (its SHA256SUMS), of named arrays."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import CxrlocError


def sha256sum(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


SUMS = "SHA256SUMS"


def write_sums(folder: Path) -> None:
    """``folder/SHA256SUMS`` (``sha256sum -c`` format) of every file in it: the folder's identity,
    recorded once when it is written so that readers never re-hash gigabytes."""
    lines = [f"{sha256sum(f)}  {f.name}\n" for f in sorted(folder.iterdir()) if f.is_file() and f.name != SUMS]
    (folder / SUMS).write_text("".join(lines))


def folder_digest(folder: Path) -> str:
    """The digest of a folder written with ``write_sums``; an error naming it when there is none."""
    sums = Path(folder) / SUMS
    if not sums.exists():
        raise CxrlocError(f"{sums} is missing: {folder} was written by an older cxrloc or by hand; rebuild it")
    return hashlib.sha256(sums.read_bytes()).hexdigest()


def array_digest(arrays: dict) -> str:
    """SHA-256 of named numpy arrays: names, dtypes, shapes and bytes."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()
