"""Argument types the subcommands share: counts, tasks."""

from __future__ import annotations

import argparse

from . import tasks

TASK_HELP = (f"a built-in task ({', '.join(tasks.BUILTIN)}) or a definition: "
             "'{name: ..., classes: [label 0, label 1, ...], regions: {class: region}}'")


def whole(least: int):
    """An argument type for a count (threads, films per batch, pixels; warm-up epochs): a whole number ≥ ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {least}")
        return value

    return parse


positive = whole(1)


def task(text: str) -> tasks.Task:
    """A ``--task``: a built-in name or a definition (cxrloc.tasks.parse)."""
    try:
        return tasks.parse(text)
    except tasks.TaskError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
