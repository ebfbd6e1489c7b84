"""Atomic writes: a killed job never leaves a file or folder that looks finished."""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CxrlocError


class WriteError(CxrlocError, OSError):
    """A failed write (disk full, quota, permissions), naming the file and the cause."""


def write_error(path: str | os.PathLike, error: BaseException) -> WriteError:
    """A one-line error for a failed write of ``path``; says so when its file system is full."""
    cause = getattr(error, "strerror", None) or str(error).splitlines()[0]
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:
        free = None
    hint = (f"; only {free / 2**20:.1f} MiB free on its file system: free space or move results elsewhere"
            if free is not None and free < 64 * 2**20 else "")
    return WriteError(f"cannot write {path}: {cause}{hint}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


def _remove_stale_temporaries(path: Path) -> None:
    """Remove what a killed writer of ``path`` left (its ``.<name>.*.part`` siblings): only one job
    writes an output at a time, so any such temporary is an orphan."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only on success.

    An ``OSError`` inside the block (a full disk, say) becomes a ``WriteError`` naming ``path``.
    Temporaries of an earlier, killed writer of ``path`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o666 & ~UMASK)  # mkstemp's is 0600: others on a shared cluster could not read results
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as e:
        raise write_error(path, e) from e
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _sibling_dir(path: Path) -> Iterator[Path]:
    """A temporary sibling folder of ``path`` (an earlier killed writer's removed first), always removed
    after the block; an ``OSError`` in the block becomes a ``WriteError`` naming ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
    except WriteError:
        raise
    except OSError as e:
        raise write_error(path, e) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; it replaces ``path`` only on success."""
    path = Path(path)
    with _sibling_dir(path) as tmp:
        yield tmp
        tmp.chmod(0o777 & ~UMASK)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)


@contextmanager
def merged_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; only on success, move each file written there into ``path``
    (replacing a file of the same name), leaving every other file of ``path`` as it was."""
    path = Path(path)
    with _sibling_dir(path) as tmp:
        yield tmp
        for f in sorted(p for p in tmp.rglob("*") if not p.is_dir()):
            target = path / f.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, target)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save`` atomically; a failed write names the file (torch says only ``basic_ios::clear``)."""
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as e:
            raise write_error(path, OSError(str(e))) from e


def allocate(path: Path, nbytes: int) -> None:
    """Reserve ``nbytes`` for ``path`` now: a full disk is an error here, not a SIGBUS in a memory map."""
    with open(path, "r+b") as f:
        os.posix_fallocate(f.fileno(), 0, nbytes)
