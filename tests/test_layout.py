"""Packages by stage: a module imports only from its own stage, an earlier one, or the light
top-level modules; the top-level modules import no stage (the CLI, cli.py and its commands
package, whose handlers dispatch to every stage, aside)."""

import ast

from .workflow import ROOT

PACKAGE = ROOT / "workflow/cxrloc"
STAGES = ("", "data", "lungs", "train", "report")  # "" is the top level; each stage may import the ones before it
CLI = "commands"  # the CLI's subcommands by stage: their handlers dispatch to every stage


def imports_of(path):
    """The cxrloc stages a module imports, as (line, stage)."""
    here = path.relative_to(PACKAGE).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = list(here[: len(here) - (node.level - 1)]) + (node.module.split(".") if node.module else [])
            names = [parts] if node.module else [parts + [a.name] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cxrloc."):
            names = [node.module.split(".")[1:]]
        else:
            continue
        for parts in names:
            yield node.lineno, parts[0] if parts and parts[0] in STAGES else ""


def test_nothing_imports_a_later_stage():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        stage = path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else ""
        if (path.name == "cli.py" and not stage) or stage == CLI:
            continue
        for line, target in imports_of(path):
            if STAGES.index(target) > STAGES.index(stage):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports cxrloc.{target}")
    assert not upward, upward


def test_the_stages_are_the_documented_packages():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted([CLI, *(s for s in STAGES if s)])
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1].split("##", 1)[0]
    for stage in [*packages, "reference"]:
        assert f"  {stage}/" in layout, stage
