"""Run onnx's backend node suite (generated in memory by the onnx package) through the simulator.

    python conformance/node_suite.py [-k REGEX] [--device CPU|CUDA] [--api backend|session] [-j JOBS] [-v] [--bar 0.99]

--api session drives the public InferenceSession as ONNX Runtime's backend drives onnxruntime.InferenceSession
(conformance/session_backend.py) instead of the interpreter (conformance/backend.py).

Prints the pass rate over every case of the suite, the failures grouped by reason, the expected
failures (conformance/expected_failures.txt) and any expected failure that now passes. Exit status
1 when the pass rate is below the bar or a case fails that is not an expected failure.

Cases are compared exactly as onnx.backend.test.runner.Runner does (its assert_similar_outputs,
with each case's rtol/atol).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from conformance.backend import SimulatorBackend  # noqa: E402
from conformance.session_backend import SessionBackend  # noqa: E402

BACKENDS = {"backend": SimulatorBackend, "session": SessionBackend}

EXPECTED_FAILURES = os.path.join(HERE, "expected_failures.txt")
# Failures expected on the GPU only (CuPy's float16 arithmetic, ...), added to the common list there.
EXPECTED_FAILURES_CUDA = os.path.join(HERE, "expected_failures_cuda.txt")
BAR = 0.99


@dataclass
class Result:
    name: str
    ok: bool
    reason: str = ""
    seconds: float = 0.0


def load_cases(pattern: str | None = None):
    """The suite's node cases (onnx.backend.test.loader), optionally those whose name matches `pattern`."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    if pattern:
        rx = re.compile(pattern)
        cases = [c for c in cases if rx.search(c.name)]
    return cases


def load_expected_failures(path: str = EXPECTED_FAILURES) -> list[tuple[re.Pattern, str]]:
    """(pattern, reason) per line `REGEX  # reason`; a pattern must match a whole case name."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, reason = line.partition("#")
            if not sep or not reason.strip():
                raise ValueError(f"{path}:{lineno}: every expected failure needs a reason after '#'")
            out.append((re.compile(pattern.strip()), reason.strip()))
    return out


def expected_reason(name: str, expected) -> str | None:
    for rx, reason in expected:
        if rx.fullmatch(name):
            return reason
    return None


def _normalize(item):
    import onnx
    from onnx import numpy_helper

    if isinstance(item, onnx.TensorProto):
        return numpy_helper.to_array(item)
    return item


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    return f"{type(exc).__name__}: {first[:300]}"


def _assert_similar(refs, outs, rtol, atol, name):
    """onnx's Runner.assert_similar_outputs, recursing into sequences one element at a time (its own recursion
    passes a sequence's elements as output lists, which breaks on 0-d elements) and comparing optionals."""
    from onnx.backend.test.runner import Runner

    if len(outs) != len(refs):
        raise AssertionError(f"{len(outs)} outputs, expected {len(refs)}")
    for ref, out in zip(refs, outs):
        if isinstance(ref, (list, tuple)) or isinstance(out, (list, tuple)):
            if not isinstance(out, (list, tuple)) or not isinstance(ref, (list, tuple)):
                raise AssertionError(f"output is {type(out).__name__}, expected {type(ref).__name__}")
            _assert_similar(list(ref), list(out), rtol, atol, name)
        elif ref is None or out is None:
            if ref is not out:
                raise AssertionError(f"output is {out!r:.60}, expected {ref!r:.60}")
        else:
            Runner.assert_similar_outputs([ref], [out], rtol=rtol, atol=atol, model_dir=name)


def run_case(case, device: str = "CPU", api: str = "backend") -> Result:
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = BACKENDS[api].prepare(case.model, device)
            for inputs, ref_outputs in case.data_sets:
                outputs = rep.run([_normalize(x) for x in inputs])
                _assert_similar([_normalize(x) for x in ref_outputs], list(outputs), case.rtol, case.atol, case.name)
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        return Result(case.name, False, _reason(exc), time.perf_counter() - start)
    return Result(case.name, True, "", time.perf_counter() - start)


_CASES = None


def _run_index(args):
    i, device, api = args
    return run_case(_CASES[i], device, api)


def run_suite(cases, device: str = "CPU", jobs: int = 1, api: str = "backend") -> list[Result]:
    global _CASES
    if jobs <= 1 or device.upper().startswith("CUDA"):  # CUDA does not survive a fork: one process
        return [run_case(c, device, api) for c in cases]
    import multiprocessing as mp

    _CASES = cases  # inherited by forked workers
    with mp.get_context("fork").Pool(jobs) as pool:
        return pool.map(_run_index, [(i, device, api) for i in range(len(cases))], chunksize=8)


def summarize(results: list[Result], expected, total: int | None = None, verbose: bool = False,
              out=sys.stdout) -> dict:
    total = total if total is not None else len(results)
    passed = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    xfail = [(r, expected_reason(r.name, expected)) for r in failed]
    unexpected = [r for r, why in xfail if why is None]
    xpass = [r for r in passed if expected_reason(r.name, expected) is not None]
    rate = len(passed) / total if total else 1.0
    print(f"node suite: {len(passed)}/{total} passed ({100 * rate:.2f}%), {len(failed)} failed "
          f"({len(failed) - len(unexpected)} expected, {len(unexpected)} unexpected)", file=out)
    if unexpected:
        print("\nunexpected failures by reason:", file=out)
        by_reason = Counter(re.sub(r"'[^']*'|\d+", "_", r.reason)[:120] for r in unexpected)
        for reason, n in by_reason.most_common():
            print(f"  {n:4d}  {reason}", file=out)
        print("\nunexpected failures:", file=out)
        for r in unexpected:
            print(f"  {r.name}: {r.reason}", file=out)
    if verbose and failed:
        print("\nexpected failures:", file=out)
        for r, why in xfail:
            if why is not None:
                print(f"  {r.name}: {why}  [{r.reason}]", file=out)
    if xpass:
        print("\nexpected failures that pass (remove them from expected_failures.txt):", file=out)
        for r in xpass:
            print(f"  {r.name}", file=out)
    if verbose:
        slow = sorted(results, key=lambda r: -r.seconds)[:10]
        print("\nslowest cases: " + ", ".join(f"{r.name} {r.seconds:.2f}s" for r in slow), file=out)
    return {"passed": len(passed), "total": total, "rate": rate, "unexpected": [r.name for r in unexpected],
            "xpass": [r.name for r in xpass]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", "--pattern", help="run only cases whose name matches this regex")
    p.add_argument("--device", default="CPU", help="CPU (NumPy) or CUDA (CuPy)")
    p.add_argument("--api", choices=sorted(BACKENDS), default="backend",
                   help="backend: the interpreter (conformance/backend.py); session: the public InferenceSession")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--bar", type=float, default=BAR, help="minimum pass rate over the whole suite")
    args = p.parse_args(argv)
    if not SimulatorBackend.supports_device(args.device):
        print(f"device {args.device} is not available here", file=sys.stderr)
        return 2
    start = time.perf_counter()
    all_cases = load_cases()
    cases = load_cases(args.pattern) if args.pattern else all_cases
    results = run_suite(cases, args.device, args.jobs, args.api)
    expected = load_expected_failures()
    if args.device.upper().startswith("CUDA"):
        expected += load_expected_failures(EXPECTED_FAILURES_CUDA)
    summary = summarize(results, expected, total=len(cases), verbose=args.verbose)
    print(f"\n{len(cases)} cases in {time.perf_counter() - start:.1f}s on {args.device}")
    if args.pattern:
        return 0 if not summary["unexpected"] else 1
    return 0 if summary["rate"] >= args.bar and not summary["unexpected"] else 1


if __name__ == "__main__":
    sys.exit(main())
