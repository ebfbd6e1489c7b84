"""Classification tasks: their classes in label order, as docs/method.md §1 lists them."""

from __future__ import annotations

NO_FINDING = "No Finding"

TASKS: dict[str, tuple[str, ...]] = {
    "ne": (NO_FINDING, "Effusion"),
    "np": (NO_FINDING, "Pneumothorax"),
    "ns": (NO_FINDING, "Subcutaneous Emphysema"),
    "nc": (NO_FINDING, "Cardiomegaly"),
    "nep": (NO_FINDING, "Effusion", "Pneumothorax"),
    "neps": (NO_FINDING, "Effusion", "Pneumothorax", "Subcutaneous Emphysema"),
}


def classes(task: str) -> tuple[str, ...]:
    """The task's classes; label i is classes(task)[i]."""
    try:
        return TASKS[task]
    except KeyError:
        raise KeyError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}") from None


def positives(task: str) -> tuple[str, ...]:
    return classes(task)[1:]


def is_binary(task: str) -> bool:
    """One positive class against No Finding."""
    return len(classes(task)) == 2
