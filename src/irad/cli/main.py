"""``irad`` entry point: subcommands, and one-line errors (no traceback) for bad input."""

from __future__ import annotations

import argparse
import sys

from irad._version import __version__
from irad.errors import IradError


def build_parser() -> argparse.ArgumentParser:
    from irad.cli import (aliasing_cmd, analyze_cmd, audit_cmd, compare_cmd, convert_cmd, data_cmd, demo_cmd, eval_cmd,
                          jpeg_search_cmd, list_cmd, purify_cmd, train_cmd)

    parser = argparse.ArgumentParser(prog="irad", description="Test-time input-transformation defenses (IRAD and friends) "
                                     "and an honest evaluation harness.")
    parser.add_argument("--version", action="version", version=f"irad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in (demo_cmd, eval_cmd, compare_cmd, audit_cmd, purify_cmd, train_cmd, aliasing_cmd, analyze_cmd,
                jpeg_search_cmd, convert_cmd, list_cmd, data_cmd):
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IradError as e:
        print(f"irad: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("irad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
