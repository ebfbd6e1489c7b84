"""Training objectives: one record per name, saying what the objective needs and how the
study grid runs it. The schema check, the workflow, the CLI and the training step read this
registry instead of branching on names; the terms themselves live in ``cxrloc.train.attention``
(map terms) and ``cxrloc.train.invariance`` (terms on a second, transformed pass). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnknownName

CAM = "cam"  # a Grad-CAM of the training forward
INPUT_GRADIENT = "input_gradient"  # the gradient of the log-probabilities with respect to the input
SECOND_PASS = "second_pass"  # a forward of a transformed copy of the batch, batched with the original


@dataclass(frozen=True)
class Objective:
    name: str
    doc: str
    needs: frozenset[str] = frozenset()
    term: bool = True  # L = λ·CE + (1 − λ)·weight·term; False: cross-entropy only, one run at λ = 1
    erase_marker: bool = False  # train and validate with the synthetic confounder erased
    mask_input: bool = False  # the classifier sees only the (dilated) lung mask, in training and evaluation
    pairs: bool = False  # takes part of each image from another image of its batch: batches of two or more

    @property
    def baseline(self) -> bool:
        return not self.term


REGISTRY: dict[str, Objective] = {o.name: o for o in (
    Objective("ce", "cross-entropy alone (λ = 1)", term=False),
    Objective("ceiling", "cross-entropy with the synthetic confounder erased from train and val", term=False,
              erase_marker=True),
    Objective("masked", "cross-entropy on the lung mask's content only (segment, then classify)", term=False,
              mask_input=True),
    Objective("soft", "1 − mean over the target region of sigmoid((CAM − t)/τ)", frozenset({CAM})),
    Objective("published", "the original's hard region fraction, without gradient", frozenset({CAM})),
    Objective("energy", "share of CAM mass outside the target region", frozenset({CAM})),
    Objective("outside", "mean CAM outside the target region", frozenset({CAM})),
    Objective("signed", "share of the un-ReLU'd Grad-CAM of z₁ − z₀ outside the region", frozenset({CAM})),
    Objective("rrr", "share of the squared input gradient outside the region (Ross et al. 2017)",
              frozenset({INPUT_GRADIENT})),
    Objective("actdiff", "distance between the features of the image and of its region alone", frozenset({SECOND_PASS})),
    Objective("swap", "cross-entropy of the image with its outside taken from another image", frozenset({SECOND_PASS}),
              pairs=True),
)}
TERMS = tuple(name for name, o in REGISTRY.items() if o.term)  # the values of attention.mode
BASELINES = tuple(name for name, o in REGISTRY.items() if o.baseline)
MAP_TERMS = tuple(name for name, o in REGISTRY.items() if o.needs & {CAM, INPUT_GRADIENT})  # cxrloc.train.attention's


def get(name: str) -> Objective:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownName(f"unknown objective {name!r}; valid objectives: {', '.join(REGISTRY)}") from None


def batch_size_error(names, batch_size: int) -> str | None:
    """Why ``batch_size`` cannot train these objectives (one that pairs images needs a partner
    in every batch), or None."""
    paired = [name for name in names if get(name).pairs]
    if paired and batch_size < 2:
        return (f"train.batch_size {batch_size}: objective {', '.join(paired)} takes part of each image from another "
                "image of its batch, so it needs batches of two or more")
    return None
