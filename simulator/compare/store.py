"""One sample's reference featuremaps, held while that sample is compared: in memory up to a limit, then
spilled to .npy files in a temporary folder (removed when the sample is done)."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

import numpy as np

from ..backend import to_host

DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of one sample's reference featuremaps kept in memory


class FeatureStore:
    """One sample's reference featuremaps: in memory up to `limit` bytes, then spilled to .npy files."""

    def __init__(self, limit: int = DEFAULT_MEMORY_LIMIT):
        self.limit = limit
        self.mem: dict[str, np.ndarray] = {}
        self.files: dict[str, str] = {}
        self.nbytes = 0
        self.tmp: Optional[str] = None

    def put(self, key, value):
        value = np.asarray(to_host(value))
        if self.nbytes + value.nbytes > self.limit and value.nbytes > 0:
            if self.tmp is None:
                self.tmp = tempfile.mkdtemp(prefix="simulator-compare-")
            path = os.path.join(self.tmp, f"{len(self.files)}.npy")
            np.save(path, value)
            self.files[key] = path
        else:
            self.mem[key] = value
            self.nbytes += value.nbytes

    def get(self, key):
        if key in self.mem:
            return self.mem[key]
        if key in self.files:
            return np.load(self.files[key], mmap_mode="r")
        return None

    def __contains__(self, key):
        return key in self.mem or key in self.files

    def clear(self):
        self.mem.clear()
        self.files.clear()
        self.nbytes = 0
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
