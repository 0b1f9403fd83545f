"""Metric formulas against hand-computed values, identical inputs, and which side of the threshold passes."""
import math

import numpy as np
import pytest

from simulator import metrics
from simulator.errors import ParameterError
from simulator.metrics import METRIC_INFO, Stats, StepStats, compute, get_metric
from simulator.schema.base import METRICS, InferenceCheckerParameters
from tests.conftest import ROOT

REF = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
OUT = np.array([1.0, 2.0, 3.0, 5.0], np.float32)  # d = [0, 0, 0, 1]

# By hand: sum(ref^2) = 30, sum(d^2) = 1, n = 4, max|ref| = 4, sum(ref*out) = 34, sum(out^2) = 39.
HAND = {
    "snr": 10 * math.log10(30 / 1),            # 14.7712 dB
    "psnr": 10 * math.log10(16 / 0.25),        # 18.0618 dB
    "mse": 0.25,
    "rmse": 0.5,
    "mae": 0.25,
    "max_abs": 1.0,
    "cosine": 34 / math.sqrt(30 * 39),         # 0.993995
    "relative_l2": math.sqrt(1 / 30),          # 0.182574
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_computed_values(name):
    assert compute(name, REF, OUT) == pytest.approx(HAND[name], rel=1e-12)
    assert getattr(metrics, name)(REF, OUT) == pytest.approx(HAND[name], rel=1e-12)


def test_snr_is_the_same_number_as_onnxruntime_qdq_debuggers_amplitude_form():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000).astype(np.float32)
    y = x + 0.01 * rng.standard_normal(1000).astype(np.float32)
    amplitude = 20 * math.log10(np.linalg.norm(x.astype(np.float64)) / np.linalg.norm((x - y).astype(np.float64)))
    assert metrics.snr(x, y) == pytest.approx(amplitude, abs=1e-6)


def test_topk_agreement():
    ref = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], np.float32)
    out = np.array([[0.2, 0.6, 0.2], [0.3, 0.4, 0.3]], np.float32)
    assert metrics.topk(ref, out, k=1) == 0.5   # row 2: reference class 0, out's top-1 is class 1
    assert metrics.topk(ref, out, k=2) == 1.0   # class 0 is in out's top 2 of row 2
    assert metrics.topk(ref, ref, k=1) == 1.0


def test_identical_outputs():
    x = np.linspace(-3, 3, 50, dtype=np.float32).reshape(5, 10)
    assert metrics.snr(x, x) == math.inf
    assert metrics.psnr(x, x) == math.inf
    assert metrics.rmse(x, x) == 0.0 and metrics.mse(x, x) == 0.0 and metrics.mae(x, x) == 0.0
    assert metrics.max_abs(x, x) == 0.0 and metrics.relative_l2(x, x) == 0.0
    assert metrics.cosine(x, x) == pytest.approx(1.0)
    assert metrics.topk(x, x) == 1.0
    zeros = np.zeros(4, np.float32)
    assert metrics.snr(zeros, zeros) == math.inf and metrics.cosine(zeros, zeros) == 1.0
    assert metrics.snr(zeros, np.ones(4, np.float32)) == -math.inf  # no signal, some noise


# value that passes and value that fails at the threshold, for each metric
DIRECTIONS = {
    "snr": (30.0, 31.0, 29.0), "psnr": (30.0, 30.0, 29.9), "cosine": (0.99, 0.995, 0.98), "topk": (0.9, 1.0, 0.5),
    "rmse": (0.1, 0.05, 0.2), "mse": (0.01, 0.01, 0.02), "mae": (0.1, 0.0, 0.11), "max_abs": (1.0, 0.5, 1.5),
    "relative_l2": (0.05, 0.01, 0.1),
}


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_threshold_direction(name):
    metric = get_metric(name)
    threshold, good, bad = DIRECTIONS[name]
    assert metric.passes(good, threshold) and not metric.passes(bad, threshold)
    assert metric.passes(threshold, threshold)  # the threshold itself passes
    assert not metric.passes(math.nan, threshold)
    assert metric.higher_is_better == (name in ("snr", "psnr", "cosine", "topk"))
    assert metric.worst([good, bad]) == bad
    assert ("higher" in metric.direction) == metric.higher_is_better


def test_every_schema_metric_has_a_formula():
    assert set(METRICS) == set(METRIC_INFO)
    for m in METRIC_INFO.values():
        assert m.formula and m.direction


def test_schema_cli_and_report_follow_the_one_metric_registry(monkeypatch):
    """A metric added to METRIC_INFO is allowed by the schema and --metric, and the CSV judges it by its rule."""
    import argparse

    from simulator import report
    from simulator.commands._options import add_metric_options

    parser = argparse.ArgumentParser()
    add_metric_options(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "metric")
    assert tuple(choices) == tuple(METRICS) == tuple(METRIC_INFO)
    lower = metrics.Metric("lower", "", False, "f", lambda s: 0.0)
    monkeypatch.setitem(METRIC_INFO, "lower", lower)
    assert report._passes({"name": "lower", "threshold": 1.0}, 0.5) == "true"
    assert report._passes({"name": "lower", "threshold": 1.0}, 2.0) == "false"
    assert report._passes({"name": "snr", "threshold": 30.0}, 2.0) == "false"
    assert report._passes({"name": "snr", "threshold": 30.0}, math.nan) == "false"
    assert get_metric("topk").k_of(5) == 5 and get_metric("snr").k_of(5) == 0


def test_pooled_stats_equal_the_metric_of_all_samples_together():
    rng = np.random.default_rng(1)
    refs = [rng.standard_normal((3, 7)).astype(np.float32) for _ in range(4)]
    outs = [r + 0.05 * rng.standard_normal(r.shape).astype(np.float32) for r in refs]
    pooled = Stats()
    for r, o in zip(refs, outs):
        pooled.merge(Stats.of(r, o))
    allr, allo = np.concatenate(refs), np.concatenate(outs)
    for name in ("snr", "psnr", "rmse", "mse", "mae", "max_abs", "cosine", "relative_l2", "topk"):
        assert get_metric(name).value(pooled) == pytest.approx(compute(name, allr, allo), rel=1e-9)


def test_nan_never_passes():
    ref = np.array([1.0, 2.0], np.float32)
    out = np.array([1.0, np.nan], np.float32)
    for name in ("snr", "rmse", "cosine", "max_abs"):
        v = compute(name, ref, out)
        assert math.isnan(v) and not get_metric(name).passes(v, 0.0)


def test_badness_sorts_worst_first_in_the_metrics_direction_with_nan_and_none_worst_of_all():
    """The one sort key of the worst samples (accumulators) and the worst isolated layer (compare.diagnosis)."""
    values = [30.0, math.nan, 10.0, None, 20.0]
    by = lambda name: sorted(values, key=get_metric(name).badness, reverse=True)  # noqa: E731
    snr, rmse = by("snr"), by("rmse")  # higher is better; lower is better
    assert math.isnan(snr[0]) and snr[1:] == [None, 10.0, 20.0, 30.0]  # stable: NaN before the later None
    assert math.isnan(rmse[0]) and rmse[1:] == [None, 30.0, 20.0, 10.0]
    assert get_metric("snr").badness(np.float32("nan")) == math.inf


def test_error_in_quantization_steps():
    ref = np.zeros((1, 2, 3), np.float32)
    out = np.array([[[0.1, 0.0, -0.1], [0.4, 0.4, 0.0]]], np.float32)
    scale = np.array([0.1, 0.2], np.float32).reshape(1, 2, 1)  # per channel
    s = StepStats().update(ref, out, scale)
    assert s.max == pytest.approx(2.0)
    assert s.rms == pytest.approx(math.sqrt((1 + 1 + 4 + 4) / 6))
    assert s.off == 4
    rms, mx = metrics.steps(ref, out, 0.1)  # per tensor: rms = rmse / scale
    assert rms == pytest.approx(metrics.rmse(ref, out) / 0.1, rel=1e-6) and mx == pytest.approx(4.0)


def test_unknown_metric_is_rejected_listing_the_valid_ones():
    with pytest.raises(ParameterError, match="valid metrics: snr, psnr, rmse"):
        get_metric("accuracy")
    ex = f"{ROOT}/examples/tiny_cnn"
    with pytest.raises(ParameterError, match=r"field 'metric'.*'accuracy'.*valid metrics: snr, psnr, rmse, mse, mae, "
                                             r"max_abs, cosine, relative_l2, topk"):
        InferenceCheckerParameters(input_model_path_0=f"{ex}/model.onnx", input_model_path_1=f"{ex}/model.onnx",
                                   input_data_path=f"{ex}/data", metric="accuracy")
    p = InferenceCheckerParameters(input_model_path_0=f"{ex}/model.onnx", input_model_path_1=f"{ex}/model.onnx",
                                   input_data_path=f"{ex}/data", meric="RMSE", threshold=0.1)
    assert p.metric == "rmse"
