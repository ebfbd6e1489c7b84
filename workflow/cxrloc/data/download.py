"""Resumable, retried downloads (HTTP Range), verified by size, SHA-256 and a manifest of first downloads."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import requests
from tqdm import tqdm

from ..atomic import atomic_write_text
from ..digests import sha256sum
from ..errors import CxrlocError

RETRYABLE = {429, 500, 502, 503, 504}


class DownloadError(CxrlocError, RuntimeError):
    pass


class Manifest:
    """``SHA256SUMS`` (``sha256sum -c`` format) of every file as first downloaded into a folder:
    a later copy must match it. Updated under a lock, as parallel downloads share it."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return {name: digest for digest, name in (line.split(maxsplit=1) for line in self.path.read_text().splitlines()
                                                 if line.strip())}

    def record(self, name: str, digest: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            sums = {**self.read(), name: digest}
            atomic_write_text(self.path, "".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))


def _verify(path: Path, url: str, sha256: str | None, size: int | None, manifest: Manifest | None) -> str | None:
    """Check ``path`` against the expected size and SHA-256 and the manifest's record; its SHA-256
    (None when nothing asked for it)."""
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"{path} from {url}: size {path.stat().st_size} ≠ expected {size}")
    recorded = manifest.read().get(path.name.removesuffix(".part")) if manifest else None
    if not (sha256 or manifest):
        return None
    digest = sha256sum(path)
    first = f"{manifest.path if manifest else ''} (its first download; delete that line if the source changed on purpose)"
    for expected, where in ((sha256, "the expected value"), (recorded, first)):
        if expected and digest != expected:
            raise DownloadError(f"{path} from {url}: checksum mismatch: sha256 {digest}, {where} says {expected}")
    return digest


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


def fetch(url: str, out: Path, sha256: str | None = None, size: int | None = None, manifest: Path | None = None,
          retries: int = 5, backoff: float = 1.0, timeout: float = 60) -> Path:
    """Download ``url`` to ``out``, resuming a partial ``.part``; verified by size and SHA-256 where
    known, and against the ``manifest`` of first downloads (recorded there when new).

    An existing ``out`` is verified the same way before it is trusted; one that fails is removed
    and downloaded again. A download that fails verification is removed, never kept.
    """
    book = Manifest(manifest) if manifest else None
    if out.exists():
        try:
            digest = _verify(out, url, sha256, size, book)
        except DownloadError as e:
            tqdm.write(f"{e}: removing it and downloading again")
            out.unlink()
        else:
            if book and digest:
                book.record(out.name, digest)
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
        digest = _verify(part, url, sha256, size, book)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)
    if book and digest:
        book.record(out.name, digest)
    return out


def extract_images(archives: list[Path], out: Path, expect: int | None = None) -> int:
    """Unpack image archives flat into ``out`` (atomically); check the image count."""
    import tarfile

    from ..atomic import atomic_dir

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

    from ..atomic import atomic_path

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
