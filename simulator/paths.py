"""Checking the paths a user gives: one rule for every entry point, each raising its own error class."""
from __future__ import annotations

import os


def checked_path(value, what: str, error: type[Exception], *, folder: bool = False, expected: str = "") -> str:
    """`value` as a path (str) that exists and is a file, or a folder with folder=True.

    Otherwise `error` (ModelError, DataError, ..., or ValueError inside a pydantic validator) with a
    message that names `what`, the path, and what was expected instead.
    """
    try:
        path = os.fspath(value)
    except TypeError:
        raise error(f"{what} {value!r}: expected a path (a string), got {type(value).__name__}") from None
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path:
        raise error(f"{what}: expected a path, got an empty string")
    if not os.path.exists(path):
        raise error(f"{what} {path!r} does not exist")
    if folder and not os.path.isdir(path):
        raise error(f"{what} {path!r} is a file; expected {expected or 'a folder'}")
    if not folder and os.path.isdir(path):
        raise error(f"{what} {path!r} is a folder; expected {expected or 'a file'}")
    return path
