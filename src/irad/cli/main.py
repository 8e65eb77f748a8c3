"""``irad`` entry point: subcommands, outputs checked and locked before any work, and one-line errors (no
traceback) for bad input and I/O failures."""

from __future__ import annotations

import argparse
import sys

from irad._version import __version__
from irad.errors import IradError
from irad.utils.outputs import command_outputs, describe_os_error


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
        with command_outputs(_outputs(args), locked=("--out", "--output")):
            return int(args.func(args) or 0)
    except IradError as e:
        print(f"irad: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only, permission, not a directory: the path and the cause
        print(f"irad: error: {describe_os_error(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("irad: interrupted", file=sys.stderr)
        return 130


def _outputs(args: argparse.Namespace) -> dict[str, tuple[str | None, bool]]:
    """The paths a command writes, by option: (path or None, is a directory)."""
    return {"--out": (getattr(args, "out", None), getattr(args, "out_is_dir", False)),
            "--output": (getattr(args, "output", None), getattr(args, "output_is_dir", False)),
            "--plot": (getattr(args, "plot", None), False),
            "--adv-cache": (getattr(args, "adv_cache", None), True)}


if __name__ == "__main__":
    sys.exit(main())
