"""onnx's backend node suite (1,884 cases generated in memory by the onnx package) through the simulator.

Asserts the pass rate (>= 99% of every case of the suite) and that every failure is listed, with its reason, in
conformance/expected_failures.txt. Runs in-process on the CPU in a few seconds, twice: through the interpreter
(conformance/backend.py) and through the public session driven as ONNX Runtime's backend drives
onnxruntime.InferenceSession (conformance/session_backend.py: sequences as lists, absent optionals as None).
"""
from __future__ import annotations

import pytest

from conformance.node_suite import BAR, expected_reason, load_cases, load_expected_failures, run_suite, summarize

SUITE_SIZE = 1884  # onnx 1.23.x


@pytest.fixture(scope="module", params=["backend", "session"])
def results(request):
    cases = load_cases()
    return cases, run_suite(cases, "CPU", jobs=1, api=request.param)


def test_suite_size(results):
    cases, _ = results
    assert len(cases) == SUITE_SIZE, "the onnx pin changed the suite; update SUITE_SIZE and re-measure"


def test_pass_rate(results):
    cases, res = results
    summary = summarize(res, load_expected_failures(), total=len(cases))
    assert summary["rate"] >= BAR, f"{summary['passed']}/{summary['total']} passed"


def test_every_failure_is_expected(results):
    _, res = results
    expected = load_expected_failures()
    unexpected = [f"{r.name}: {r.reason}" for r in res if not r.ok and expected_reason(r.name, expected) is None]
    assert not unexpected, "\n".join(unexpected)


def test_expected_failures_still_fail(results):
    _, res = results
    expected = load_expected_failures()
    # A random op's case ("random by definition") matches its drawn expectation by chance now and then (Bernoulli of
    # ten elements): not a sign that it passes.
    reasons = {r.name: expected_reason(r.name, expected) for r in res if r.ok}
    stale = [name for name, why in reasons.items() if why is not None and not why.startswith("random")]
    assert not stale, f"now passing; remove from expected_failures.txt: {stale}"


def test_every_expected_failure_has_a_reason():
    for rx, reason in load_expected_failures():
        assert reason, rx.pattern
