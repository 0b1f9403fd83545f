"""The attention kernels of a decode step, compiled (ops/_jit_attention.py) against their NumPy twins.

    python benchmarks/attention_kernels.py [--calls 400] [--rounds 5]

Each case is timed per call, fastest of --calls calls, in --rounds interleaved rounds (compiled, then NumPy
under ops._compiled.disabled()); the shapes are the example small decoder's (examples/make_small_decoder.py:
2 heads of 16, a cache of 32 positions): MultiHeadAttention and GroupQueryAttention for one token, a prompt's
flash MultiHeadAttention, and a Softmax of 64 rows of 33.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import numpy_twin, timed_rounds  # noqa: E402

from ops import _compiled  # noqa: E402
from ops import contrib_attention as attention  # noqa: E402
from ops import softmax  # noqa: E402


def cases():
    rng = np.random.default_rng(0)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    q, k, v, past_k, past_v = r(1, 1, 32), r(1, 1, 32), r(1, 1, 32), r(1, 2, 32, 16), r(1, 2, 32, 16)
    mask = np.ones((1, 33), np.int32)
    mask[0, 5:32] = 0
    prompt = r(1, 8, 32)
    gq, gk, gpk, gpv = r(1, 1, 32), r(1, 1, 16), r(1, 1, 32, 16), r(1, 1, 32, 16)
    rows = r(64, 33)
    return {
        "MultiHeadAttention token": lambda: attention.MultiHeadAttention(
            np, q, k, v, None, mask, None, past_k, past_v, num_heads=2, unidirectional=1, _n_outputs=3),
        "MultiHeadAttention prompt (flash)": lambda: attention.MultiHeadAttention(np, prompt, prompt, prompt,
                                                                                  num_heads=2),
        "GroupQueryAttention token": lambda: attention.GroupQueryAttention(
            np, gq, gk, gk, gpk, gpv, np.array([10], np.int32), np.array(11, np.int32), num_heads=2, kv_num_heads=1),
        "Softmax 64x33": lambda: softmax.Softmax(np, rows),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if not _compiled.enabled(np):
        sys.exit("the compiled loops are off (Numba missing, or SIMULATOR_JIT=0): nothing to compare")
    report = {}
    for name, fn in cases().items():
        best = timed_rounds({"compiled": fn, "numpy": numpy_twin(fn)}, args.calls * args.rounds, args.rounds)
        report[name] = {"compiled_us": round(best["compiled"] * 1e6, 1), "numpy_us": round(best["numpy"] * 1e6, 1),
                        "speedup": round(best["numpy"] / best["compiled"], 1)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
