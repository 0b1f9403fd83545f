"""The interactive comparison page rendered in a real browser (headless Chromium from the distribution's
packages, driven over its DevTools protocol) on a 1,000-layer result: labels do not overlap, ticks are
round, hidden rows are hidden, the table sorts and filters, the first failure is marked, a click opens the
tensor. Saves a screenshot (UPDATE_SCREENSHOT=1 writes the one docs/comparison.md shows)."""
import json
import math
import os

import numpy as np
import pytest

from tests.browser import find_chromium
from tests.conftest import ROOT
from tests.synthetic_report import synthetic_result

pytest.importorskip("plotly", reason="the interactive page needs the report extra (Plotly)")
pytest.importorskip("websocket", reason="driving Chromium needs websocket-client (the test extra)")
if find_chromium() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)", allow_module_level=True)

SCREENSHOT = os.path.join(ROOT, "docs", "images", "comparison-page.png")


@pytest.fixture(scope="module")
def browser():
    from tests.browser import Browser  # noqa: PLC0415

    b = Browser(width=1280, height=900)
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    from simulator.report import write_text, to_html  # noqa: PLC0415

    d = synthetic_result(1000).to_dict()
    for i, layer in enumerate(d["layers"]):  # fields other changes add: they show up without page code
        layer["identical_share"] = (i % 7) / 7
    d["sensitivity"] = [{"layer": d["layers"][702]["layer"], "snr_gain_db": 12.5, "bitwidth": 16}]
    path = tmp_path_factory.mktemp("page") / "layers.html"
    write_text(path, to_html(d))
    browser.open(str(path))
    return browser, d


def test_new_result_fields_appear(page):
    b, _ = page
    assert b.eval("document.querySelector('#layer-table th[data-key=identical_share]') !== null")
    assert "sensitivity" in b.eval("Array.from(document.querySelectorAll('h2')).map(h => h.textContent).join('|')")
    assert "12.5" in b.eval("document.querySelector('table.extra').textContent")


def _boxes(b, selector):
    return b.eval(f"Array.from(document.querySelectorAll({json.dumps(selector)})).map(e => {{"
                  f"const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.textContent]; }})")


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _assert_no_overlap(boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not _overlap(a, b), f"labels {a[4]!r} and {b[4]!r} overlap"


def _round_step(values):
    steps = np.diff(values)
    assert np.allclose(steps, steps[0]), values
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    return any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))


def test_axis_labels_do_not_overlap_and_ticks_are_round(page):
    b, _ = page
    assert b.errors == []
    x, y = _boxes(b, "#layer-chart .xtick text"), _boxes(b, "#layer-chart .ytick text")
    assert len(x) >= 4 and len(y) >= 4
    _assert_no_overlap(x)
    _assert_no_overlap(y)
    _assert_no_overlap(x + y)
    assert _round_step([float(t[4].replace("\u2212", "-")) for t in y])
    assert _round_step([float(t[4].replace("\u2212", "-").replace(",", "")) for t in x])
    legend = _boxes(b, "#layer-chart .legend")[0]
    plot = _boxes(b, "#layer-chart .nsewdrag")[0]
    assert legend[3] <= plot[1] + 1, "the legend covers the plot area"
    for note in _boxes(b, "#layer-chart .annotation"):
        assert not _overlap(legend, note), f"the legend covers the annotation {note[4]!r}"
    chart = _boxes(b, "#layer-chart")[0]
    for t in x:
        assert chart[1] <= t[1] and t[3] <= chart[3], "x labels are cut off"


def test_constants_and_data_movement_hidden_by_default(page):
    b, d = page
    hidden = sum(1 for layer in d["layers"] if layer["constant"] or layer["op_type"] in ("Reshape", "Transpose"))
    assert hidden == 333
    assert b.eval("document.querySelectorAll('#layer-table tr.hiddenrow').length") == hidden
    assert b.eval("document.getElementById('layer-chart').data[0].x.length") == 1000 - hidden
    assert b.eval("Array.from(document.querySelectorAll('#layer-table tbody tr:not(.hiddenrow)'))"
                  ".filter(r => getComputedStyle(r).display !== 'none').length") == 1000 - hidden
    b.eval("document.getElementById('show-hidden').click()")
    assert b.eval("document.querySelectorAll('#layer-table tr.hiddenrow').length") == 0
    assert b.eval("document.getElementById('layer-chart').data[0].x.length") == 1000
    b.eval("document.getElementById('show-hidden').click()")
    assert b.eval("document.getElementById('layer-chart').data[0].x.length") == 1000 - hidden


def test_first_failure_is_marked(page):
    b, d = page
    assert d["first_failure"].endswith("MatMul_702_output_0")
    notes = b.eval("Array.from(document.querySelectorAll('#layer-chart .annotation-text')).map(e => e.textContent)")
    assert any(n.startswith("first failure") and "MatMul_702" in n for n in notes)


def _order(b):
    return b.eval("Array.from(document.querySelectorAll('#layer-table tbody tr:not(.hiddenrow)'))"
                  ".map(r => Number(r.dataset.index))")


def test_table_sorts_worst_isolated_first_then_by_any_column(page):
    b, d = page
    layers = d["layers"]
    order = _order(b)
    iso = [layers[i]["isolated_worst"] for i in order]
    assert order[0] == 702 and iso == sorted(iso)  # SNR: worst is lowest
    b.eval("document.querySelector('#layer-table th[data-key=layer]').click()")
    names = [layers[i]["layer"] for i in _order(b)]
    assert names == sorted(names, key=lambda s: s.lower()) or names == sorted(names)
    b.eval("document.querySelector('#layer-table th[data-key=steps_max]').click()")
    steps = [layers[i]["steps_max"] for i in _order(b)]
    assert steps == sorted(steps, reverse=True)
    b.eval("document.querySelector('#layer-table th[data-key=steps_max]').click()")
    assert [layers[i]["steps_max"] for i in _order(b)] == sorted(steps)
    b.eval("document.querySelector('#layer-table th[data-key=isolated_worst]').click()")
    assert _order(b)[0] == 702


def test_filter_and_click_open_the_tensor(page):
    b, d = page
    b.eval("{const f = document.getElementById('layer-filter'); f.value = 'softmax';"
           "f.dispatchEvent(new Event('input'))}")
    shown = _order(b)
    assert shown and all(d["layers"][i]["op_type"] == "Softmax" for i in shown)
    assert len(shown) == sum(1 for layer in d["layers"] if layer["op_type"] == "Softmax")
    b.eval("{const f = document.getElementById('layer-filter'); f.value = '';"
           "f.dispatchEvent(new Event('input'))}")
    b.eval("document.querySelector('#layer-table tr[data-index=\"702\"]').click()")
    assert "MatMul_702" in b.eval("document.querySelector('#detail h3').textContent")
    assert b.eval("document.querySelectorAll('#hist-chart .bars .point').length") > 10
    assert b.eval("document.getElementById('hist-chart').layout.shapes.length") == 2  # the grid's ends
    assert "clipped" in b.eval("document.getElementById('detail').textContent")
    assert b.eval("document.querySelectorAll('#detail .chart').length") == 3  # histogram, samples, weight
    assert b.eval("document.querySelector('#layer-table tr.selected').dataset.index") == "702"


def test_steps_mode_and_sample_points(page):
    b, _ = page
    b.eval("{const m = document.getElementById('y-mode'); m.value = 'steps_max'; m.dispatchEvent(new Event('change'))}")
    assert b.eval("document.getElementById('layer-chart').layout.yaxis.title.text") == "quantization steps"
    b.eval("{const m = document.getElementById('y-mode'); m.value = 'metric'; m.dispatchEvent(new Event('change'))}")
    modes = b.eval("document.getElementById('sample-chart').data.map(t => t.mode)")
    assert modes and all(m == "markers" for m in modes)  # samples are points, never a line
    assert b.eval("document.querySelectorAll('#worst-samples tr').length") == 4


def test_screenshot(page, tmp_path):
    b, _ = page
    b.eval("window.scrollTo(0, 0); document.getElementById('show-hidden').checked = false;")
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else str(tmp_path / "page.png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    b.screenshot(target)
    with open(target, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_an_all_identical_result_is_drawn_readably(browser, tmp_path):
    """Every layer identical (SNR inf): points on an 'identical' row, not pinned to an arbitrary axis."""
    result = synthetic_result(60, n_samples=2, seed=1, identical=True)
    path = tmp_path / "identical.html"
    result.save(path)
    browser.open(str(path))
    names = browser.eval("document.getElementById('layer-chart').data.map(t => t.name)")
    assert any("identical" in n for n in names)
    y = _boxes(browser, "#layer-chart .ytick text")
    values = [float(t[4].replace("\u2212", "-")) for t in y]
    assert _round_step(values)
    assert min(values) <= 30 <= max(values)  # the threshold is on the axis


def _example(kind, **kw):
    from simulator.api import Simulator  # noqa: PLC0415
    from simulator.schema.base import InferenceCheckerParameters, LayerwiseCheckerParameters  # noqa: PLC0415

    ex = os.path.join(ROOT, "examples", "tiny_cnn")
    models = dict(input_model_path_0=f"{ex}/model.onnx", input_model_path_1=f"{ex}/model.onnx",
                  input_encodings_path_1=f"{ex}/model.encodings", input_data_path=f"{ex}/data")
    if kind == "inference":
        return Simulator.compare_model_by_inference(InferenceCheckerParameters(**models, **kw))
    return Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**models, **kw))


@pytest.mark.parametrize("kind, options", [
    ("inference", {}), ("inference", {"metric": "cosine", "threshold": 0.999}),
    ("layerwise", {"isolated": False}), ("layerwise", {"metric": "mse", "threshold": 1e-3}),
    ("layerwise", {"metric": "topk", "threshold": 1.0})])
def test_every_kind_of_result_renders_without_errors(browser, tmp_path, kind, options):
    path = tmp_path / "page.html"
    _example(kind, **options).save(path)
    browser.open(str(path))
    assert browser.errors == []
    assert browser.eval("document.getElementById('verdict').textContent") in ("PASS", "FAIL")
    assert browser.eval("document.querySelectorAll('#sample-chart .point').length") >= 4
    if kind == "layerwise":
        assert browser.eval("document.querySelectorAll('#layer-chart .point').length") >= 9

