"""The interactive comparison page: one self-contained HTML file (plotly.js inlined, no network) that
reads at a thousand layers. Needs the optional `report` extra (`pip install '.[report]'`, Plotly);
without it simulator.report writes its plain page.

The page carries the result's to_dict() as JSON and builds everything from it in the browser
(report_page.js): the per-layer chart and table take their columns from the layers' dicts, so a field
a result gains later shows up in the table without code here.
"""
from __future__ import annotations

import html
import json
from importlib import resources

from .encodings import DATA_MOVEMENT_OPS

CONSTANT_OPS = frozenset({"Initializer", "Constant"})


def plotly_js() -> str | None:
    """plotly.js's source from the installed Plotly package, or None when Plotly is not installed."""
    try:
        from plotly.offline import get_plotlyjs  # noqa: PLC0415
    except ImportError:
        return None
    return get_plotlyjs()


def hidden_reason(layer: dict) -> str | None:
    """Why a layer is hidden by default: its value is a constant, or its op only moves values."""
    if layer.get("constant") or layer.get("op_type") in CONSTANT_OPS:
        return "constant"
    if layer.get("op_type") in DATA_MOVEMENT_OPS:
        return "data movement"
    return None


def _title(d: dict) -> str:
    if d["kind"] == "inference":
        return "Model comparison"
    return "Layer-wise comparison" if d.get("compared") == "model 1" else "Featuremap verification"


def to_interactive_html(d: dict, plotly_source: str, jsonable, static_html: str = "") -> str:
    """The page of a result dict; `jsonable` makes it strict JSON (simulator.report._jsonable); `static_html`
    (sections rendered by simulator.report, such as verify's dump diagnosis) follows the interactive part."""
    page = dict(d)
    page["title"] = _title(d)
    if "layers" in d:
        page["hidden"] = [hidden_reason(layer) for layer in d["layers"]]
    data = json.dumps(jsonable(page), allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    script = resources.files(__package__).joinpath("report_page.js").read_text(encoding="utf-8")
    css = resources.files(__package__).joinpath("report_page.css").read_text(encoding="utf-8")
    verdict = "PASS" if d["passed"] else "FAIL"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(page['title'])}: {verdict}</title><style>{css}</style>"
            f"<script>{plotly_source}</script></head><body>"
            f"<noscript>This report needs JavaScript; the same content is in the JSON, CSV and text reports."
            f"</noscript><div id='app'></div>{static_html}"
            f"<script type='application/json' id='report-data'>{data}</script>"
            f"<script>{script}</script></body></html>")
