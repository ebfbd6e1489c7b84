"""Resumable, retried, verified downloads (HTTP Range), written atomically."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import requests
from tqdm import tqdm

RETRYABLE = {429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    pass


def sha256sum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, url: str, sha256: str | None, size: int | None) -> None:
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"{url}: size {path.stat().st_size} ≠ expected {size}")
    if sha256 and sha256sum(path) != sha256:
        raise DownloadError(f"{url}: checksum mismatch (expected sha256 {sha256})")


def _attempt(url: str, part: Path, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as r:
        if r.status_code == 416:
            return
        if r.status_code in RETRYABLE:
            raise ConnectionError(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise DownloadError(f"{url}: HTTP {r.status_code}")
        if have and r.status_code == 200:
            have = 0
        total = have + int(r.headers.get("Content-Length", 0))
        with open(part, "ab" if have else "wb") as f, tqdm(total=total or None, initial=have, unit="B",
                                                             unit_scale=True, desc=Path(url).name) as bar:
            for chunk in r.iter_content(1 << 16):
                f.write(chunk)
                bar.update(len(chunk))
        if total and part.stat().st_size < total:
            raise ConnectionError("transfer cut short")


def fetch(url: str, out: Path, sha256: str | None = None, size: int | None = None,
          retries: int = 5, backoff: float = 1.0, timeout: float = 60) -> Path:
    """Download ``url`` to ``out`` unless already there and verified; resume a partial ``.part``."""
    if out.exists():
        _verify(out, url, sha256, size)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    for attempt in range(retries + 1):
        try:
            _attempt(url, part, timeout)
            break
        except (ConnectionError, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as e:
            if attempt == retries:
                raise DownloadError(f"{url}: gave up after {retries + 1} attempts: {e}") from e
            time.sleep(backoff * 2**attempt)
    try:
        _verify(part, url, sha256, size)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)
    return out


def extract_images(archives: list[Path], out: Path, expect: int | None = None) -> int:
    """Unpack image archives flat into ``out`` (atomically); check the image count."""
    import tarfile

    from .io import atomic_dir

    with atomic_dir(out) as tmp:
        for archive in tqdm(archives, desc="extract", unit="archive"):
            try:
                with tarfile.open(archive) as tar:
                    for member in tar:
                        if member.isfile() and member.name.lower().endswith(".png"):
                            member.name = Path(member.name).name
                            tar.extract(member, tmp, filter="data")
            except (tarfile.TarError, EOFError, OSError) as e:
                raise DownloadError(f"corrupt archive {archive}: {e}; delete it and rerun to fetch it again") from e
        n = sum(1 for _ in tmp.glob("*.png"))
        if expect is not None and n != expect:
            raise DownloadError(f"extracted {n} images from {len(archives)} archives, expected {expect}")
    return n


def nih_file(name: str, out: Path) -> Path:
    """NIH's ``Data_Entry_2017_v2020.csv`` or ``BBox_List_2017.csv``: Box offers no direct link,
    so take the copy that the torchxrayvision package ships (the same file), or ask for it."""
    import gzip
    import importlib.util

    from .io import atomic_path

    spec = importlib.util.find_spec("torchxrayvision")
    source = Path(spec.origin).parent / "data" / f"{name}.gz" if spec else None
    if source is None or not source.exists():
        raise DownloadError(
            f"cannot fetch {name}: download it from https://nihcc.app.box.com/v/ChestXray-NIHCC "
            f"and place it at {out}, or `pip install torchxrayvision`, which ships it"
        )
    with gzip.open(source, "rb") as src, atomic_path(out) as tmp:
        tmp.write_bytes(src.read())
    return out
