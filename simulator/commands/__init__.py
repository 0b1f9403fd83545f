"""CLI sub-commands, one module each. A module defines NAME, HELP, add_arguments(parser) and run(args) -> int;
importing this package finds them all."""
import importlib
import pkgutil

COMMANDS = [importlib.import_module(f"{__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name) if not m.name.startswith("_")]
