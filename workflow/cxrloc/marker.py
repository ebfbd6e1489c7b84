"""Where the synthetic confounder sits: a bright square token in the upper-right corner.

Its geometry alone (no drawing code), shared by the generator, the ceiling run that erases it
and the evaluation that pastes it.
"""

from __future__ import annotations

MARKER_SIZE = 0.07  # side, as a fraction of the image side
MARKER_MARGIN = 0.04  # distance from the top and right edges, as a fraction of the side


def marker_slices(n: int) -> tuple[slice, slice]:
    """Rows and columns of the token in an ``n``-pixel image."""
    a, b = int(MARKER_MARGIN * n), int((MARKER_MARGIN + MARKER_SIZE) * n)
    return slice(a, b), slice(n - b, n - a)
