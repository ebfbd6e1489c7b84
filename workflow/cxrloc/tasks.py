"""Classification tasks: their classes in label order and each class's attention region
(docs/method.md §1, §5). The built-in tasks are entries of one table; a config may declare
its own as a mapping: ``name``, ``classes`` (a list: label order) and ``regions`` (class →
region; a class left out has none). A YAML mapping has no order, hence the list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

from .errors import CxrlocError

NO_FINDING = "No Finding"
# Region kinds (docs/method.md §5); the index of a kind is its code in the training step.
KINDS = ("none", "lower", "upper", "outside", "box", "lungs")
NAME = re.compile(r"^[A-Za-z0-9]+$")  # a task name is a path and wildcard component


class TaskError(CxrlocError, ValueError):
    pass


def is_binary(classes) -> bool:
    """Whether a task of these classes is one finding against its control (ROC curves, F1 of the positive)."""
    return len(classes) == 2


@dataclass(frozen=True)
class Task:
    name: str
    classes: tuple[str, ...]  # label i is classes[i]; label 0 is the control class
    regions: tuple[str, ...]  # the attention region kind of each class

    @property
    def positives(self) -> tuple[str, ...]:
        return self.classes[1:]

    @property
    def control(self) -> str:
        """Label 0: its images come only from patients who never carry a positive class."""
        return self.classes[0]

    @property
    def binary(self) -> bool:
        return is_binary(self.classes)

    @property
    def kinds(self) -> tuple[int, ...]:
        """Region kind code (index into KINDS) of each label."""
        return tuple(KINDS.index(r) for r in self.regions)

    def definition(self) -> dict:
        return {"name": self.name, "classes": list(self.classes),
                "regions": {c: r for c, r in zip(self.classes, self.regions) if r != "none"}}

    def argument(self) -> str:
        """How the CLI's ``--task`` receives it: a built-in's name, else its definition as JSON."""
        return self.name if BUILTIN.get(self.name) == self else json.dumps(self.definition())


def _builtin(name: str, *classes: tuple[str, str]) -> Task:
    return Task(name, tuple(c for c, _ in classes), tuple(r for _, r in classes))


_NONE = (NO_FINDING, "none")
_EFF, _PTX, _SUB = ("Effusion", "lower"), ("Pneumothorax", "upper"), ("Subcutaneous Emphysema", "outside")
BUILTIN: dict[str, Task] = {t.name: t for t in (
    _builtin("ne", _NONE, _EFF),
    _builtin("np", _NONE, _PTX),
    _builtin("ns", _NONE, _SUB),
    _builtin("nc", _NONE, ("Cardiomegaly", "box")),
    _builtin("nep", _NONE, _EFF, _PTX),
    _builtin("neps", _NONE, _EFF, _PTX, _SUB),
)}


def define(entry: str | dict, where: str = "tasks") -> Task:
    """A task from a config entry: a built-in name, or a mapping ``{name, classes, regions}``.
    Errors name ``where`` (the config key) and list what is valid."""
    if isinstance(entry, str):
        if entry not in BUILTIN:
            raise TaskError(f"{where}: unknown task {entry!r}; built-in tasks: {', '.join(BUILTIN)}, "
                            "or declare one as {name: ..., classes: [label 0, label 1, ...], regions: {class: region}}")
        return BUILTIN[entry]
    if not isinstance(entry, dict) or not {"name", "classes"} <= set(entry) <= {"name", "classes", "regions"}:
        raise TaskError(f"{where}: a task is a built-in name or a mapping with the keys name, classes and regions")
    name, classes, regions = entry["name"], entry["classes"], entry.get("regions") or {}
    if not isinstance(name, str) or not NAME.match(name):
        raise TaskError(f"{where}.name: {name!r} is not a name of letters and digits")
    if name in BUILTIN:
        raise TaskError(f"{where}.name: {name!r} is a built-in task; give yours another name")
    if not isinstance(classes, list) or len(set(map(str, classes))) != len(classes) or len(classes) < 2:
        raise TaskError(f"{where}.classes: a list of at least two distinct classes, in label order")
    classes = tuple(map(str, classes))
    strangers = sorted(set(regions) - set(classes))
    if strangers:
        raise TaskError(f"{where}.regions: {strangers} not among the classes {list(classes)}")
    bad = {c: r for c, r in regions.items() if r not in KINDS}
    if bad:
        raise TaskError(f"{where}.regions: {bad}; valid: {', '.join(KINDS)}")
    return Task(name, classes, tuple(regions.get(c, "none") for c in classes))


def parse(text: str) -> Task:
    """The CLI's ``--task``: a built-in name or a definition as inline JSON/YAML."""
    return define(text if text in BUILTIN or NAME.match(text) else yaml.safe_load(text), "--task")


def define_all(entries: list) -> dict[str, Task]:
    """The config's ``tasks``, by name; a name given twice is an error."""
    out: dict[str, Task] = {}
    for i, entry in enumerate(entries):
        task = define(entry, f"tasks[{i}]")
        if task.name in out:
            raise TaskError(f"tasks[{i}]: task {task.name!r} is listed twice")
        out[task.name] = task
    return out
