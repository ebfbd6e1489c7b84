"""Arrays read back from the caches cxrloc writes: numbers only, never pickled objects; anything
else an error naming the file."""

from __future__ import annotations

import os

from .errors import CxrlocError


class CacheError(CxrlocError, ValueError):
    """A cache file that cannot be read as cxrloc wrote it (corrupt, foreign, or of pickled objects)."""


def load_array(path: str | os.PathLike, mmap: bool = False):
    """A ``.npy`` array of numbers (memory-mapped read-only where asked); anything else is an error
    naming the file."""
    import numpy as np

    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise CacheError(f"corrupt or foreign cache file {path}: {str(e).splitlines()[0]}; delete it and rerun the "
                         "rule that writes it") from None
    if not isinstance(array, np.ndarray) or array.dtype.hasobject:
        raise CacheError(f"{path} is not an array of numbers; delete it and rerun the rule that writes it")
    return array


def load_arrays(path: str | os.PathLike, names: tuple[str, ...]) -> dict:
    """The named arrays of an ``.npz`` file, read now; a missing name, a corrupt file or pickled objects
    are an error naming the file."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise CacheError(f"{path} lacks {', '.join(missing)}: written by an older cxrloc or by hand; delete "
                                 "it and rerun the rule that writes it")
            return {n: z[n] for n in names}
    except CacheError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CacheError(f"corrupt or foreign cache file {path}: {str(e).splitlines()[0]}; delete it and rerun the "
                         "rule that writes it") from None
