"""The λ schedule of a run: a fixed λ or the adaptive one, after optional cross-entropy
warm-up epochs. One type parses and prints every form: run-name token (``0.5w2``, ``1a``),
results key (``0.5``, ``adaptive``) and table label (``λ = 0.5, warm-up 2``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ADAPTIVE = "adaptive"
ADAPTIVE_TOKEN = "1a"  # the original's run-name suffix for the adaptive λ


@dataclass(frozen=True)
class Schedule:
    lam: float | str  # λ in [0, 1], or ADAPTIVE
    warmup: int = 0  # cross-entropy epochs before λ applies

    @classmethod
    def parse(cls, value: str | float) -> Schedule:
        """From a config value, a results key or a run-name token (``0.5``, ``adaptive``, ``1aw3``)."""
        text = str(value).strip()
        lam, _, warmup = text.partition("w")
        try:
            schedule = cls(ADAPTIVE if lam in (ADAPTIVE_TOKEN, ADAPTIVE) else float(lam), int(warmup or 0))
        except ValueError:
            raise ValueError(f"λ {value!r}: expected a number in [0, 1] or 'adaptive', optionally with a "
                             "warm-up suffix wN (0.5w2)") from None
        if not schedule.adaptive and not 0 <= schedule.lam <= 1:
            raise ValueError(f"λ {value!r} is outside [0, 1]")
        return schedule

    @property
    def adaptive(self) -> bool:
        return self.lam == ADAPTIVE

    @property
    def cross_entropy(self) -> bool:
        """λ = 1 throughout: plain cross-entropy, whatever the objective."""
        return not self.adaptive and float(self.lam) == 1.0

    def warmed(self, warmup: int) -> Schedule:
        return dataclasses.replace(self, warmup=int(warmup))

    @property
    def key(self) -> str:
        """λ as results and tables key it: ``1``, ``0.75``, …, ``adaptive`` (no warm-up)."""
        return ADAPTIVE if self.adaptive else f"{float(self.lam):g}"

    @property
    def lam_token(self) -> str:
        """λ as run names carry it (the ``lam`` wildcard): ``1``, ``0.75``, ``1a`` (adaptive)."""
        return ADAPTIVE_TOKEN if self.adaptive else self.key

    @property
    def warmup_token(self) -> str:
        """The warm-up as run names carry it after λ (the ``warmup`` wildcard): ``w{n}``, or nothing."""
        return f"w{self.warmup}" if self.warmup else ""

    @property
    def token(self) -> str:
        """As run names carry it: ``1``, ``0.75``, ``1a`` (adaptive), then ``w{n}`` for a warm-up."""
        return self.lam_token + self.warmup_token

    @property
    def label(self) -> str:
        """As tables and figures print it: ``λ = 0.5``, ``λ = Adapt``, ``λ = 0.5, warm-up 2``."""
        return f"λ = {'Adapt' if self.adaptive else self.key}" + (f", warm-up {self.warmup}" if self.warmup else "")

    @property
    def order(self) -> tuple:
        """The appendix's order: λ descending, adaptive last, then by warm-up."""
        return self.adaptive, 0.0 if self.adaptive else -float(self.lam), self.warmup

    def warmed_through(self, epochs: int) -> bool:
        """Whether the warm-up takes every one of ``epochs``: a run with an objective that never trains with it."""
        return not self.cross_entropy and self.warmup >= epochs

    def at(self, epoch: int) -> float:
        """λ of an epoch (from 0): 1 during warm-up, then fixed or adaptive max(0.2, 1 − 0.023·epoch)."""
        if epoch < self.warmup:
            return 1.0
        return max(0.2, 1.0 - 0.023 * epoch) if self.adaptive else float(self.lam)


def ordered(keys) -> list[str]:
    """The distinct λ keys given, in the appendix's order."""
    return sorted(set(keys), key=lambda k: Schedule.parse(k).order)


def label(key: str, warmup: int = 0) -> str:
    return Schedule.parse(key).warmed(warmup).label
