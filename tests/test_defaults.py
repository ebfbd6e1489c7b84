"""One home for every default: config/schema.yaml. The typed config takes its defaults from it, and
no rule, Snakefile line or CLI option states one again."""

import ast
import dataclasses
import re

import pytest
from cxrloc import config

from .workflow import ROOT

TYPED = [config.TrainConfig, config.AttentionConfig, config.UNetConfig, config.SyntheticConfig, config.ImplantedConfig,
         config.EffusionConfig]
READ_BY_RULES = {"unet.checkpoint", "unet.encoder_weights"}  # paths: the rules read them, not the U-Net


def section_of(cls) -> str:
    return next(iter(cls.schema_keys.values())).rsplit(".", 1)[0]


def schema_defaults(section: str) -> dict:
    node = config.schema()
    for key in section.split("."):
        node = node["properties"][key]
    return {f"{section}.{k}": v["default"] for k, v in node["properties"].items() if "default" in v}


def dataclass_default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def as_schema_value(value):
    """A dataclass default as the schema writes it (tuples as lists)."""
    return [as_schema_value(v) for v in value] if isinstance(value, tuple) else value


@pytest.mark.parametrize("cls", TYPED, ids=lambda c: c.__name__)
def test_the_typed_config_and_the_schema_agree(cls):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, key in cls.schema_keys.items():
        default = config.default_of(key)
        assert as_schema_value(dataclass_default(fields[name])) == default, (cls.__name__, name, default)
    keys = set(cls.schema_keys.values())
    unread = sorted(set(schema_defaults(section_of(cls))) - keys - READ_BY_RULES)
    assert not unread, f"schema keys with a default that {cls.__name__} lacks: {unread}"
    own = sorted(set(fields) - set(cls.schema_keys))
    assert own in ([], ["warmup_epochs"]), f"{cls.__name__} fields with a default of their own: {own}"


def test_no_rule_or_snakefile_line_repeats_a_default():
    literal_get = re.compile(r"""\.get\(\s*["'][\w.]+["']\s*,\s*(?!None\b)""")
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not literal_get.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


OPTIONS = {"--device": "device", "--threads": "train.threads", "--bootstrap": "evaluate.bootstrap",
           "--label-separator": "source.label_separator"}


def test_no_cli_option_states_a_config_keys_default_again():
    from cxrloc.cli import parser

    tree = ast.parse((ROOT / "workflow/cxrloc/cli.py").read_text())
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument"):
        flags = [a.value for a in call.args if isinstance(a, ast.Constant)]
        default = next((k.value for k in call.keywords if k.arg == "default"), None)
        if set(flags) & set(OPTIONS) and default is not None:
            assert not isinstance(default, ast.Constant), f"cli.py:{call.lineno}: {flags} states its default again"
    for sub in parser()._subparsers._group_actions[0].choices.values():
        for action in sub._actions:
            key = next((OPTIONS[f] for f in action.option_strings if f in OPTIONS), None)
            if key and action.default is not None:
                assert action.default == config.default_of(key), (sub.prog, action.option_strings)
