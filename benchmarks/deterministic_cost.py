"""Cost of deterministic=True (float64-accumulated matrix products) against the default, per device.

    python benchmarks/deterministic_cost.py [--devices cpu,cuda] [--models resnet50,inception_v2,vgg19]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import feeds_for, model_path, timed  # noqa: E402

from simulator.session import InferenceSession  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--devices", default="cpu")
    p.add_argument("--models", default="resnet50,inception_v2,vgg19")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    for device in args.devices.split(","):
        for name in args.models.split(","):
            path = model_path(name)
            feeds = feeds_for(path, name, 1)
            times = {}
            for det in (False, True):
                s = InferenceSession(path, use_cuda=device == "cuda", deterministic=det)
                times[det] = timed(lambda s=s: s.run(None, feeds), args.repeat)
            print(f"{device:4} {name:13} default {times[False] * 1e3:8.1f} ms  deterministic {times[True] * 1e3:8.1f} ms"
                  f"  ({times[True] / times[False]:.2f}x)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
