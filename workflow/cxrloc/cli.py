"""``cxrloc``: one subcommand per workflow rule, so every step also runs by hand. The subcommands
live by stage in ``cxrloc.commands``, each parser next to the handler it runs."""

from __future__ import annotations

import argparse
import sys

from .commands import data, lungs, report, train


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cxrloc", description="one subcommand per workflow rule, so every step also "
                                 "runs by hand")
    sub = ap.add_subparsers(dest="command", required=True)
    for stage in (data, lungs, train, report):
        stage.register(sub)
    return ap


def main(argv: list[str] | None = None) -> None:
    from .errors import CxrlocError

    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CxrlocError as e:
        sys.exit(f"cxrloc {args.command}: error: {e}")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:  # an input path
        sys.exit(f"cxrloc {args.command}: error: {e.filename}: {e.strerror}")


if __name__ == "__main__":
    main()
