"""Aspect-keeping resize: scale the long side to ``size``, pad the short side evenly with black,
and map predictions (masks, boxes) back to the original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Letterbox:
    height: int  # of the original image
    width: int
    size: int  # of the square the image is fitted into

    @property
    def inner(self) -> tuple[int, int]:
        """Height and width of the scaled image inside the square."""
        scale = self.size / max(self.height, self.width)
        return max(1, round(self.height * scale)), max(1, round(self.width * scale))

    @property
    def offset(self) -> tuple[int, int]:
        """Top and left padding."""
        h, w = self.inner
        return (self.size - h) // 2, (self.size - w) // 2

    def fit(self, array: np.ndarray, resample=Image.Resampling.BILINEAR) -> np.ndarray:
        """An ``(height, width)`` uint8 array in the square (zeros around it)."""
        h, w = self.inner
        top, left = self.offset
        out = np.zeros((self.size, self.size), np.uint8)
        out[top : top + h, left : left + w] = np.asarray(Image.fromarray(array).resize((w, h), resample))
        return out

    def restore(self, square: np.ndarray) -> np.ndarray:
        """A ``(size, size)`` float map (a probability) back at ``(height, width)``, bilinear."""
        h, w = self.inner
        top, left = self.offset
        inner = Image.fromarray(np.ascontiguousarray(square[top : top + h, left : left + w], dtype=np.float32))
        return np.asarray(inner.resize((self.width, self.height), Image.Resampling.BILINEAR))

