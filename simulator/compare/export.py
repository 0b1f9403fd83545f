"""export_featuremap: both models' compared featuremaps written as .npy files, with an index.json."""
from __future__ import annotations

import json
import os
import re

from .. import safe_io
from ..errors import ParameterError


def safe_file_name(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("_.") or "tensor"


class FeaturemapExporter:
    """export_featuremap: model_0/<sample>/<tensor>.npy and model_1/<sample>/<tensor>.npy, plus index.json."""

    def __init__(self, root: str, pairs):
        self.root = os.fspath(root)
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"export_featuremap_path {self.root!r} cannot be created: {exc}") from None
        self.files: dict[tuple[str, int], str] = {}
        used: set[str] = set()
        for key, n0, n1 in pairs:
            for side, name in ((0, n0), (1, n1)):
                if (name, side) in self.files:
                    continue
                base = safe_file_name(name)
                f, i = base, 1
                while (side, f.lower()) in used:
                    i += 1
                    f = f"{base}_{i}"
                used.add((side, f.lower()))
                self.files[(name, side)] = f + ".npy"
        self.pairs = pairs
        self.samples: list[str] = []

    def write(self, sample, side: int, name: str, value):
        folder = os.path.join(self.root, f"model_{side}", sample)
        os.makedirs(folder, exist_ok=True)
        safe_io.write_npy(os.path.join(folder, self.files[(name, side)]), value, "featuremap file")

    def close(self):
        index = {"layout": "model_<0|1>/<sample>/<file>", "samples": self.samples,
                 "featuremaps": [{"layer": key, "name0": n0, "name1": n1, "file0": self.files[(n0, 0)],
                                  "file1": self.files[(n1, 1)]} for key, n0, n1 in self.pairs]}
        safe_io.write_text(os.path.join(self.root, "index.json"), json.dumps(index, indent=2), "featuremap index")
