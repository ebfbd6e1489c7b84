"""The benchmark scripts print figures and are not run by the tests, but each must still import:
a function renamed in the package once left bench/attention_step.py broken without a failing test."""

import importlib

import pytest

from .workflow import ROOT

SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_imports(name, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    assert importlib.import_module(name).__file__ == str(ROOT / "bench" / f"{name}.py")
