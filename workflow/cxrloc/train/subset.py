"""A learning curve's training set: a share of the training split's patients, drawn from the run's
seed (``train.patients``), cycled to the whole split's length so that every share trains the same
number of steps and a smaller set is not also a shorter training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ConfigError


def patient_order(patients: pd.Series, seed: int) -> list[str]:
    """The split's patients in the order the seed draws them: a share takes the first ones, so that
    each share's patients are among every larger share's."""
    unique = sorted(patients.unique())
    return [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]


def subset_rows(part: pd.DataFrame, share: float, seed: int) -> np.ndarray:
    """Positions in ``part`` (one split's rows) of the films a run at ``share`` trains on: every film of
    the first ``round(share × patients)`` patients (at least one), in table order, repeated to
    ``len(part)`` (each film k or k + 1 times)."""
    if share >= 1:
        return np.arange(len(part))
    order = patient_order(part["patient"], seed)
    kept = set(order[:max(1, round(share * len(order)))])
    rows = np.flatnonzero(part["patient"].isin(kept).to_numpy())
    return np.tile(rows, -(-len(part) // len(rows)))[:len(part)]


def check_classes(labels: np.ndarray, classes: tuple[str, ...], share: float, seed: int) -> None:
    """A subset that lacks a class cannot train the task: an error naming the key to change."""
    missing = [c for i, c in enumerate(classes) if not (labels == i).any()]
    if missing:
        raise ConfigError(f"train.patients {share}: seed {seed}'s share of the training patients holds no "
                          f"{', '.join(missing)} film; raise the share")
