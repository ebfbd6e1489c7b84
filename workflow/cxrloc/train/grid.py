"""The study's grid of runs, read from the config and checked before any job: every name known,
and no run that would train plain cross-entropy under an objective's name (an attention term on a
one-cell Grad-CAM map, a warm-up as long as training, a ceiling with no confounder to remove).
Each error names the config key. Torch-free unless a backbone or Grad-CAM layer outside the
registry has to be measured (cxrloc.train.camsize)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import objectives
from ..backbones import canonical
from ..errors import CxrlocError
from ..schedule import Schedule
from ..tasks import Task, TaskError, define_all
from .camsize import CamSizeError, check_cam_size, configured_layer


class GridError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class Grid:
    tasks: dict[str, Task]
    backbones: tuple[str, ...]
    schedules: tuple[Schedule, ...]  # the λ values, each without its warm-up
    warmups: tuple[int, ...]
    thresholds: tuple[str, ...]
    seeds: tuple[str, ...]
    objectives: tuple[str, ...]

    def runs(self) -> list[tuple[Schedule, str]]:
        """(λ schedule with its warm-up, objective) pairs: λ = 1 is cross-entropy (``ce``) whatever
        the objective; every other λ runs once per warm-up for each objective with a term; the other
        baselines (``ceiling``, ``masked``) run once, at λ = 1."""
        ce = [s for s in self.schedules if s.cross_entropy]
        pairs = [(ce[0], "ce")] if ce else []
        pairs += [(s.warmed(w), o) for s in self.schedules if not s.cross_entropy for w in self.warmups
                  for o in self.objectives if not objectives.get(o).baseline]
        return pairs + [(Schedule(1.0), o) for o in self.objectives if objectives.get(o).baseline and o != "ce"]


def _tasks(config: dict) -> dict[str, Task]:
    try:
        return define_all(config["tasks"])
    except TaskError as e:
        raise GridError(f"config key {e}") from None


def _backbones(config: dict) -> tuple[str, ...]:
    try:
        return tuple(canonical(b) for b in config["backbones"])
    except KeyError as e:
        raise GridError(f"config key 'backbones': {e.args[0]}") from None


def _objectives(config: dict) -> tuple[str, ...]:
    """Names of the registry (its own and installed plugins'); ``attention.mode`` alone must have a term."""
    key = "objectives" if config["objectives"] else "attention.mode"
    names = tuple(config["objectives"] or [config["attention"]["mode"]])
    try:
        chosen = [objectives.get(name) for name in names]
    except KeyError as e:
        raise GridError(f"config key {key}: {e}") from None
    if key == "attention.mode" and chosen[0].baseline:
        raise GridError(f"config key attention.mode: {names[0]} has no term; name it in objectives")
    return names


def _check_batch_size(config: dict, grid: Grid) -> None:
    """A batch size the objectives can train with (swap needs a partner in every batch)."""
    error = objectives.batch_size_error(grid.objectives, config["train"]["batch_size"])
    if error:
        raise GridError(f"config key {error}")


def _check_warmups(config: dict, grid: Grid) -> None:
    epochs = config["train"]["epochs"]
    long = [w for w in grid.warmups if any(s.warmed(w).warmed_through(epochs) for s in grid.schedules)]
    if long:
        raise GridError(f"config key warmups: a warm-up of {long[0]} epochs with train.epochs {epochs} leaves no "
                        "epoch for the objective (every epoch at λ = 1): warm-ups must be shorter than train.epochs")


def _check_confounder(config: dict, grid: Grid) -> None:
    """Objectives that train on copies whose confounder carries no label need a source that draws one."""
    source = config["source"]
    copied = [o for o in grid.objectives if objectives.get(o).unconfounded]
    drawn = source["kind"] == "implanted" or (
        source["kind"] == "synthetic" and source.get("synthetic", {}).get("confounder_rate") is not None)
    if copied and not drawn:
        raise GridError(f"config key objectives: {', '.join(copied)} trains on copies whose confounder carries no "
                        f"label, and source.kind "
                        f"{source['kind']} draws none (only synthetic sets with source.synthetic.confounder_rate and "
                        "the implanted source do)")


def _check_cam_sizes(config: dict, grid: Grid) -> None:
    """A Grad-CAM map term where the backbone's map is a single cell would be inert."""
    with_map = sorted({o for _, o in grid.runs() if objectives.get(o).uses_cam})
    for backbone in grid.backbones if with_map else ():
        try:
            check_cam_size(backbone, config["image_size"], configured_layer(config["train"]["cam_layer"], backbone))
        except CamSizeError as e:
            raise GridError(f"config key {e} (objective {', '.join(with_map)})") from None


def plan(config: dict) -> Grid:
    """The checked grid of a (schema-validated) config."""
    grid = Grid(_tasks(config), _backbones(config), tuple(Schedule.parse(lam) for lam in config["lambdas"]),
                tuple(config["warmups"]), tuple(f"{t:g}" for t in config["thresholds"]),
                tuple(str(s) for s in config["seeds"]), _objectives(config))
    for check in (_check_batch_size, _check_warmups, _check_confounder, _check_cam_sizes):
        check(config, grid)
    return grid
