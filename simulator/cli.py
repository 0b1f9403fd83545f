"""The `simulator` command line. Errors print as one line (no traceback) and exit with status 2.

Each sub-command is a module of simulator/commands (NAME, HELP, add_arguments, run).
"""
from __future__ import annotations

import argparse
import sys

from .backend import reuse_freed_memory
from .errors import SimulatorError


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMMANDS  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="simulator", description="Bit-exact quantization simulator for ONNX models "
                                     "with AIMET encodings.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(handler=command.run)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    reuse_freed_memory()  # this process runs models over and over: keep freed arrays' memory (backend.py)
    try:
        return args.handler(args)
    except SimulatorError as exc:
        print(f"simulator: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that cannot be written (a file where a folder is expected, no rights)
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"simulator: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simulator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
