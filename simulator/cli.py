"""The `simulator` command line. Errors print as one line (no traceback) and exit with status 2.

Each sub-command is a module of simulator/commands (NAME, HELP, add_arguments, run).
"""
from __future__ import annotations

import argparse
import sys

from .backend import reuse_freed_memory
from .errors import SimulatorError


class _ExamplesFormatter(argparse.HelpFormatter):
    """Wraps the description as usual; keeps the examples' lines (text with line breaks) as written."""

    def _fill_text(self, text, width, indent):
        return text if "\n" in text else super()._fill_text(text, width, indent)


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMMANDS  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="simulator", description="Bit-exact quantization simulator for ONNX models "
                                     "with AIMET encodings.", epilog="`simulator COMMAND --help` shows each "
                                     "command's options and examples.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP,
                           epilog="examples:\n" + "\n".join(f"  {e}" for e in command.EXAMPLES),
                           formatter_class=_ExamplesFormatter)
        command.add_arguments(p)
        p.set_defaults(handler=command.run, command_parser=p)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("onnx-quant-simulator")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


def main(argv=None) -> int:
    from .commands._flags import in_cli_words  # noqa: PLC0415

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    reuse_freed_memory()  # this process runs models over and over: keep freed arrays' memory (backend.py)
    try:
        return args.handler(args)
    except SimulatorError as exc:
        print(f"simulator: error: {in_cli_words(str(exc), args.command_parser, argv)}", file=sys.stderr)
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
