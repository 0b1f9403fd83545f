"""onnx's backend node suite through the public session API, driven exactly as ONNX Runtime's backend drives
onnxruntime.InferenceSession (conformance/session_backend.py: positional inputs by get_inputs() names, sequences
as lists, absent optionals as None, run(None, feed)): the same pass rate as the interpreter's own adapter."""
from __future__ import annotations

import pytest

from conformance.node_suite import BAR, expected_reason, load_cases, load_expected_failures, run_suite, summarize


@pytest.fixture(scope="module")
def results():
    cases = load_cases()
    return cases, run_suite(cases, "CPU", jobs=1, api="session")


def test_pass_rate_through_the_session(results):
    cases, res = results
    summary = summarize(res, load_expected_failures(), total=len(cases))
    assert summary["rate"] >= BAR, f"{summary['passed']}/{summary['total']} passed"


def test_every_failure_is_one_the_interpreter_has_too(results):
    _, res = results
    expected = load_expected_failures()
    unexpected = [f"{r.name}: {r.reason}" for r in res if not r.ok and expected_reason(r.name, expected) is None]
    assert not unexpected, "\n".join(unexpected)
