"""Every file the project opens from a user, and every file it writes, goes through here.

Reads: a regular file (never a FIFO, device or socket: opened with O_NONBLOCK and checked with fstat
before a byte is read), whose real path lies inside the folder it was given for, within a size limit
checked before reading. Writes: never through a symbolic link; into a temporary file in the same
folder that is renamed into place, and removed on any error or interrupt. docs/errors.md lists the
limits and how to change them (SIMULATOR_MAX_* environment variables).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from typing import Any, Iterator

import numpy as np

from .errors import ParameterError

GiB = 1 << 30
# Defaults of the limits; each can be changed with the environment variable of the same name.
LIMITS = {
    "SIMULATOR_MAX_JSON_BYTES": 1 * GiB,      # an encodings, mapping or match file
    "SIMULATOR_MAX_INFLATED_BYTES": 1 * GiB,  # one compressed array (an .npz member) once inflated
}


def limit(name: str) -> int:
    """The limit `name` (a key of LIMITS), from the environment variable of that name if set."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return LIMITS[name]
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ParameterError(f"environment variable {name}={text!r}: expected a number of bytes (an integer >= 0)")
    return value


# -- reading ---------------------------------------------------------------------------------------

MAX_NPY_HEADER = 10_000  # numpy.lib.format's own max_header_size

def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def check_inside(path, folder, what: str, error: type[Exception]) -> str:
    """The real path of `path`, which must lie inside `folder` (after resolving every symbolic link)."""
    path = os.fspath(path)
    try:
        real, real_folder = os.path.realpath(path), os.path.realpath(folder)
    except (ValueError, OSError) as exc:  # a NUL byte, a symlink loop
        raise error(f"{what} {path!r} is not a valid path: {exc}") from None
    if os.path.commonpath([real_folder, real]) != real_folder:
        raise error(f"{what} {path!r} resolves to {real!r}, outside the folder {folder!r} it was given in "
                    f"(a symbolic link?); refused")
    return real


def check_regular(path, what: str, error: type[Exception], *, inside: str | None = None) -> os.stat_result:
    """stat() of `path`, which must be a regular file (inside `inside` when given); nothing is opened."""
    path = os.fspath(path)
    if inside is not None:
        check_inside(path, inside, what, error)
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path!r} is {_kind(st.st_mode)}, not a regular file; refused")
    return st


def open_regular(path, what: str, error: type[Exception], *, inside: str | None = None,
                 max_bytes: int | None = None, limit_name: str = "") -> io.BufferedReader:
    """`path` opened for binary reading, checked as it is opened: a FIFO never blocks, a device is never read."""
    path = os.fspath(path)
    if inside is not None:
        check_inside(path, inside, what, error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path!r} is {_kind(st.st_mode)}, not a regular file; refused")
        if max_bytes is not None and st.st_size > max_bytes:
            how = f" (raise it with the environment variable {limit_name})" if limit_name else ""
            raise error(f"{what} {path!r} is {st.st_size} bytes, over the limit of {max_bytes} bytes{how}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, what: str, error: type[Exception], *, inside: str | None = None,
               max_bytes: int | None = None, limit_name: str = "") -> bytes:
    with open_regular(path, what, error, inside=inside, max_bytes=max_bytes, limit_name=limit_name) as f:
        try:
            return f.read()
        except OSError as exc:
            raise error(f"cannot read {what} {path!r}: {exc.strerror or exc}") from None


def read_json(path, what: str, error: type[Exception], *, inside: str | None = None) -> Any:
    """A JSON file within SIMULATOR_MAX_JSON_BYTES; every problem is `error` naming `what` and the path."""
    path = os.fspath(path)
    name = "SIMULATOR_MAX_JSON_BYTES"
    data = read_bytes(path, what, error, inside=inside, max_bytes=limit(name), limit_name=name)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise error(f"{what} {path!r} is not valid JSON for this purpose: it is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, integers too long to convert
        raise error(f"{what} {path!r} is not valid JSON: {exc}") from None


def _npy_header(f, where: str, error: type[Exception]):
    """(shape, fortran_order, dtype) from a .npy header; refuses pickles (object arrays). The header's length
    is checked before the header is read (NumPy would read whatever length the file claims)."""
    try:
        start = f.read(8)  # magic, major, minor
        if len(start) < 8 or start[:6] != b"\x93NUMPY" or start[6] not in (1, 2, 3):
            raise ValueError("no NumPy header (or an unknown version)")
        length_field = f.read(2 if start[6] == 1 else 4)
        length = int.from_bytes(length_field, "little")
        if length > MAX_NPY_HEADER:
            raise ValueError(f"its header claims {length} bytes (NumPy's headers are below {MAX_NPY_HEADER})")
        f = io.BytesIO(start + length_field + f.read(length))
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            shape, fortran, dtype = np.lib.format._read_array_header(f, version)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{where} is not a valid .npy file: {exc}") from None
    if dtype.hasobject:
        raise error(f"{where} holds a pickled (object) array; pickles are never loaded, save a plain numeric array "
                    f"with np.save")
    return shape, fortran, dtype


def read_npy_stream(f, available: int, where: str, error: type[Exception], *, max_bytes: int | None = None,
                    limit_name: str = "") -> np.ndarray:
    """One array from a .npy stream holding `available` bytes: the header is checked against what the stream
    holds (and `max_bytes`) before any data is read, so a lying header cannot make us allocate."""
    start = f.tell()
    shape, fortran, dtype = _npy_header(f, where, error)
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * dtype.itemsize
    have = available - (f.tell() - start)
    if nbytes > have:
        raise error(f"{where} is truncated: its header declares {'x'.join(map(str, shape)) or 'a scalar'} {dtype} "
                    f"({nbytes} bytes), the file holds {have} bytes of data")
    if max_bytes is not None and nbytes > max_bytes:
        raise error(f"{where} declares {nbytes} bytes of data once inflated, over the limit of {max_bytes} bytes "
                    f"(raise it with the environment variable {limit_name})")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise error(f"{where} is truncated: {len(data)} of {nbytes} bytes of data")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_npy(path, what: str, error: type[Exception], *, inside: str | None = None) -> np.ndarray:
    path = os.fspath(path)
    with open_regular(path, what, error, inside=inside) as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(6) != b"\x93NUMPY":
            raise error(f"{what} {path!r} is not a valid .npy file (no NumPy header)")
        f.seek(0)
        return read_npy_stream(f, size, f"{what} {path!r}", error)


def npz_keys(path, what: str, error: type[Exception], *, inside: str | None = None) -> list[str]:
    """The array names of an .npz file (its .npy members); reads only the zip's directory."""
    path = os.fspath(path)
    with _zip(path, what, error, inside) as z:
        return [i.filename[:-4] for i in z.infolist() if i.filename.endswith(".npy")]


def read_npz_member(path, key: str, what: str, error: type[Exception], *, inside: str | None = None) -> np.ndarray:
    """Array `key` of an .npz file; its header is checked against the member's size and
    SIMULATOR_MAX_INFLATED_BYTES before it is inflated."""
    path = os.fspath(path)
    name = "SIMULATOR_MAX_INFLATED_BYTES"
    where = f"{what} {path!r} (array {key!r})"
    with _zip(path, what, error, inside) as z:
        try:
            info = z.getinfo(key + ".npy")
        except KeyError:
            raise error(f"{what} {path!r} holds no array {key!r}") from None
        try:
            with z.open(info) as m:
                return read_npy_stream(m, info.file_size, where, error, max_bytes=limit(name), limit_name=name)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:  # CRC errors, odd compressions
            raise error(f"{where} cannot be read: {exc}") from None
        except zlib.error as exc:
            raise error(f"{where} cannot be inflated: {exc}") from None


@contextlib.contextmanager
def _zip(path, what, error, inside) -> Iterator[zipfile.ZipFile]:
    with open_regular(path, what, error, inside=inside) as f:
        try:
            z = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise error(f"{what} {path!r} is not a valid .npz (zip) file: {exc}") from None
        with z:
            yield z


# -- writing ---------------------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path, what: str, error: type[Exception] = ParameterError, *, text: bool = False):
    """Yield a file to write `path` into: a temporary file in the same folder, renamed onto `path` when the
    block succeeds and removed when it fails or is interrupted. Refuses to write through a symbolic link.
    Every OSError (a full disk, "File too large", no permission) is `error` naming the path."""
    path = os.fspath(path)
    if os.path.islink(path):
        raise error(f"{what} {path!r} is a symbolic link; refusing to write through it (remove it first)")
    if os.path.isdir(path):
        raise error(f"{what} {path!r} is a folder; expected a file name to write")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise error(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, _FILE_MODE)
        with (open(fd, "w", encoding="utf-8", newline="") if text else open(fd, "wb")) as f:
            yield f
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise error(f"cannot write {what} {path!r}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_text(path, text: str, what: str = "output file", error: type[Exception] = ParameterError) -> str:
    with atomic_write(path, what, error, text=True) as f:
        f.write(text)
    return os.fspath(path)


def write_npy(path, array, what: str = "output file", error: type[Exception] = ParameterError) -> str:
    with atomic_write(path, what, error) as f:
        np.lib.format.write_array(f, _plain(array, path), allow_pickle=False)
    return os.fspath(path)


def write_npz(path, arrays: dict, what: str = "output file", error: type[Exception] = ParameterError) -> str:
    """An .npz holding each array under its name (any string: names are never keywords), like np.savez."""
    with atomic_write(path, what, error) as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for name, array in arrays.items():
                with z.open(f"{name}.npy", "w", force_zip64=True) as m:
                    np.lib.format.write_array(m, _plain(array, path, name), allow_pickle=False)
    return os.fspath(path)


def _plain(array, path, name: str = "") -> np.ndarray:
    """An array NumPy can save without pickling: strings become fixed-width unicode."""
    array = np.asanyarray(array)
    if array.dtype.hasobject:
        try:
            array = array.astype(np.str_)
        except (TypeError, ValueError):
            raise ParameterError(f"cannot save {name or 'an array'!r} to {os.fspath(path)!r}: it holds Python "
                                 f"objects, which are never pickled") from None
    return array


__all__ = ["LIMITS", "limit", "check_inside", "check_regular", "open_regular", "read_bytes", "read_json",
           "read_npy", "read_npy_stream", "npz_keys", "read_npz_member", "atomic_write", "write_text", "write_npy",
           "write_npz"]
