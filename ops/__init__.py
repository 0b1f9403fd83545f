"""Op kernels, one family per module; importing this package imports (and so registers) them all."""
import importlib
import pkgutil

from .registry import Kernel, register, registered, resolve  # noqa: F401

_NOT_KERNELS = {"registry", "dtypes", "errors", "xp"}  # and the "_" helpers

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in _NOT_KERNELS and not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")
