"""Training objectives: one record per name, carrying everything a run needs to know of it (its
term, the map or second pass the term reads, the view of the data it trains on). The schema
check, the workflow, the CLI, the training step and the reports read these records; nothing
outside this module branches on an objective's name. Torch-free: a term is named by reference
(``module:function``) and imported by the training step alone.

Objectives of other packages join the registry through the entry-point group
``cxrloc.objectives``: each entry point names an :class:`Objective` (docs/method.md §7).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from .errors import CxrlocError, UnknownName

# What a map term reads (Objective.heat)
CAM = "cam"  # the Grad-CAM of the training forward, for the true (or predicted) class
SIGNED_CAM = "signed_cam"  # the un-ReLU'd, unnormalized Grad-CAM of z₁ − z₀, against the positive region
INPUT_GRADIENT = "input_gradient"  # the squared gradient of Σ log p with respect to the input

GROUP = "cxrloc.objectives"
ATTENTION = "cxrloc.train.attention"
INVARIANCE = "cxrloc.train.invariance"


@dataclass(frozen=True)
class Objective:
    """``term`` is ``None`` for cross-entropy alone (one run at λ = 1); otherwise the loss is
    λ·CE + (1 − λ)·weight·term, where a map term is ``term(heat, regions, thresh, attention)``
    on the map ``heat`` names, and a second-pass term is ``term(logits, second_logits, features,
    second_features, labels, attention)`` on a forward of ``second_pass(x, labels, regions,
    attention)`` batched with the original."""

    name: str
    doc: str
    term: str | None = None  # module:function of the per-sample term
    heat: str | None = None  # map terms: CAM, SIGNED_CAM or INPUT_GRADIENT
    second_pass: str | None = None  # second-pass terms: module:function of the transformed batch
    graph_through_cam: bool = True  # False: the CAM is built without gradient (the published term)
    unconfounded: bool = False  # trains and validates on the ceiling copies: the confounder carries no label
    mask_input: bool = False  # the classifier sees only the (dilated) lung mask, in training and evaluation
    pairs: bool = False  # takes part of each image from another image of its batch: batches of two or more

    @property
    def baseline(self) -> bool:
        return self.term is None

    @property
    def uses_cam(self) -> bool:
        """A Grad-CAM map term: inert where the backbone's map is a single cell."""
        return self.heat in (CAM, SIGNED_CAM)

    def __post_init__(self):
        if self.term and bool(self.heat) == bool(self.second_pass):
            raise CxrlocError(f"objective {self.name!r}: a term reads a map (heat) or a second pass, exactly one")


def _map(name, doc, function, heat=CAM, **kw):
    return Objective(name, doc, f"{ATTENTION}:{function}", heat=heat, **kw)


def _second(name, doc, function, transform, **kw):
    return Objective(name, doc, f"{INVARIANCE}:{function}", second_pass=f"{INVARIANCE}:{transform}", **kw)


BUILTIN = (
    Objective("ce", "cross-entropy alone (λ = 1)"),
    Objective("ceiling", "cross-entropy on train and val copies whose confounder is drawn at the shifted test's rate, "
                         "whatever the label", unconfounded=True),
    Objective("masked", "cross-entropy on the lung mask's content only (segment, then classify)", mask_input=True),
    _map("soft", "1 − mean over the target region of sigmoid((CAM − t)/τ)", "soft_fraction"),
    _map("published", "the original's hard region fraction, without gradient", "hard_fraction",
         graph_through_cam=False),
    _map("energy", "share of CAM mass outside the target region", "energy_outside"),
    _map("outside", "mean CAM outside the target region", "mean_outside"),
    _map("signed", "share of the un-ReLU'd Grad-CAM of z₁ − z₀ outside the region", "mass_outside", heat=SIGNED_CAM),
    _map("rrr", "share of the squared input gradient outside the region (Ross et al. 2017)", "mass_outside",
         heat=INPUT_GRADIENT),
    _second("actdiff", "distance between the features of the image and of its region alone", "feature_distance",
            "keep_region_filled"),
    _second("swap", "cross-entropy of the image with its outside taken from another image", "swapped_cross_entropy",
            "keep_region_swapped", pairs=True),
)


def _plugins() -> tuple[Objective, ...]:
    """The objectives other installed packages declare (entry-point group ``cxrloc.objectives``)."""
    found = []
    for point in entry_points(group=GROUP):
        objective = point.load()
        if not isinstance(objective, Objective):
            raise CxrlocError(f"entry point {point.name} = {point.value} of group {GROUP} is no cxrloc Objective")
        found.append(objective)
    return tuple(found)


def _registry(objectives) -> dict[str, Objective]:
    registry: dict[str, Objective] = {}
    for o in objectives:
        if o.name in registry:
            raise CxrlocError(f"objective {o.name!r} is declared twice (entry-point group {GROUP})")
        registry[o.name] = o
    return registry


REGISTRY = _registry((*BUILTIN, *_plugins()))
TERMS = tuple(name for name, o in REGISTRY.items() if not o.baseline)  # the values of attention.mode
BASELINES = tuple(name for name, o in REGISTRY.items() if o.baseline)


def get(name: str) -> Objective:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownName(f"unknown objective {name!r}; valid objectives: {', '.join(REGISTRY)}") from None


def function(reference: str):
    """The function a ``module:function`` reference names."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def batch_size_error(names, batch_size: int) -> str | None:
    """Why ``batch_size`` cannot train these objectives (one that pairs images needs a partner
    in every batch), or None."""
    paired = [name for name in names if get(name).pairs]
    if paired and batch_size < 2:
        return (f"train.batch_size {batch_size}: objective {', '.join(paired)} takes part of each image from another "
                "image of its batch, so it needs batches of two or more")
    return None
