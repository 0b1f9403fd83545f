"""simulator.safe_io: the one rule for reading user files and writing outputs."""
import os
import stat
import zipfile

import numpy as np
import pytest

from simulator import safe_io
from simulator.errors import DataError, ParameterError


def test_atomic_write_replaces_the_file_and_keeps_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    safe_io.write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o666 & ~safe_io._umask()


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, interrupt):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises((KeyboardInterrupt, ParameterError)) as info:
        with safe_io.atomic_write(path, "output file") as f:
            f.write(b"partial")
            raise interrupt
    if isinstance(interrupt, OSError):
        assert info.match(r"cannot write output file .*out\.bin': No space left on device")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_never_writes_through_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(ParameterError, match=r"link' is a symbolic link; refusing to write through it"):
        safe_io.write_npz(tmp_path / "link", {"y": np.ones(2)})
    assert victim.read_text() == "keep"


def test_npz_names_are_never_keywords(tmp_path):
    arrays = {"file": np.arange(3), "allow_pickle": np.ones(2, np.float32), "a/b": np.zeros(1),
              "text": np.array(["x", "yz"], dtype=object)}
    safe_io.write_npz(tmp_path / "o.npz", arrays)
    with np.load(tmp_path / "o.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(arrays)
        np.testing.assert_array_equal(z["file"], np.arange(3))
        assert z["text"].tolist() == ["x", "yz"]


def test_npz_members_are_checked_before_they_are_inflated(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "d.npz", y=np.zeros(1000, np.float32))
    assert safe_io.npz_keys(tmp_path / "d.npz", "dump file", DataError) == ["y"]
    np.testing.assert_array_equal(safe_io.read_npz_member(tmp_path / "d.npz", "y", "dump file", DataError),
                                  np.zeros(1000, np.float32))
    monkeypatch.setenv("SIMULATOR_MAX_INFLATED_BYTES", "1000")
    with pytest.raises(DataError, match=r"declares 4000 bytes of data once inflated, over the limit of 1000 bytes"):
        safe_io.read_npz_member(tmp_path / "d.npz", "y", "dump file", DataError)
    with pytest.raises(DataError, match=r"holds no array 'z'"):
        safe_io.read_npz_member(tmp_path / "d.npz", "z", "dump file", DataError)


def test_a_bad_limit_variable_is_a_parameter_error(monkeypatch):
    monkeypatch.setenv("SIMULATOR_MAX_JSON_BYTES", "lots")
    with pytest.raises(ParameterError, match=r"SIMULATOR_MAX_JSON_BYTES='lots': expected a number of bytes"):
        safe_io.limit("SIMULATOR_MAX_JSON_BYTES")


def test_reads_refuse_fifos_devices_and_links_out(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match=r"pipe' is a FIFO \(named pipe\), not a regular file"):
        safe_io.read_bytes(tmp_path / "pipe", "data file", DataError)
    with pytest.raises(DataError, match=r"'/dev/zero' is a character device"):
        safe_io.read_bytes("/dev/zero", "data file", DataError)
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "secret").write_text("s")
    (inner / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(DataError, match=r"link' resolves to .*secret', outside the folder"):
        safe_io.read_bytes(inner / "link", "data file", DataError, inside=str(inner))


def test_npy_streams_refuse_lying_headers(tmp_path):
    path = tmp_path / "a.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 40,)})
    with pytest.raises(DataError, match=r"a\.npy' is truncated: its header declares 1099511627776 float32"):
        safe_io.read_npy(path, "data file", DataError)
    with zipfile.ZipFile(tmp_path / "f.npz", "w") as z, z.open("y.npy", "w") as m:
        np.lib.format.write_array(m, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(safe_io.read_npz_member(tmp_path / "f.npz", "y", "dump file", DataError),
                                  np.arange(6.0).reshape(2, 3))
