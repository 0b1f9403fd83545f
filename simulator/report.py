"""Comparison reports from a result's to_dict(): JSON, CSV, a text table and a standalone HTML page.

The HTML page is the interactive one of report_html.py when Plotly is installed; without it, the plain
page here: its own CSS and an inline SVG plot (no plotting library needed).
JSON is strict: non-finite numbers are written as the strings "inf", "-inf" and "nan".
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import os

from . import safe_io
from .errors import ParameterError
from .metrics import get_metric

FORMATS = (".json", ".csv", ".html", ".htm", ".txt")


# -- values -----------------------------------------------------------------------------------------

def fmt(v, unit: str = "") -> str:
    """A metric value for people: 'inf', '45.21 dB', '0.0123'."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if unit == "dB":
        return f"{v:.2f}"
    return significant(v)


def significant(v: float, digits: int = 4) -> str:
    """`digits` significant digits, more when fewer would show a round number that v is not (a cosine of
    0.99996 prints 0.99996, not 1)."""
    text = f"{v:.{digits}g}"
    while digits < 9 and float(text) != v and float(text) == round(float(text)):
        digits += 1
        text = f"{v:.{digits}g}"
    return text


def _jsonable(obj):
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # NumPy scalars
        return _jsonable(obj.item())
    return obj


def to_json(d: dict, indent: int = 2) -> str:
    return json.dumps(_jsonable(d), indent=indent, allow_nan=False)


def write_text(path, text: str) -> str:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"report file {path!r} cannot be written: {exc}") from None
    return safe_io.write_text(path, text, "report file")


def save(d: dict, path) -> str:
    """Write the report in the format of `path`'s extension."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".json":
        return write_text(path, to_json(d))
    if ext == ".csv":
        return write_text(path, to_csv(d))
    if ext in (".html", ".htm"):
        return write_text(path, to_html(d))
    if ext == ".txt":
        return write_text(path, to_text(d) + "\n")
    raise ParameterError(f"report file {os.fspath(path)!r}: unknown format {ext or '(no extension)'!r}; use one of "
                         f"{', '.join(FORMATS)}")


# -- CSV --------------------------------------------------------------------------------------------

def to_csv(d: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    m = d["metric"]
    if d["kind"] == "inference":
        w.writerow(["sample", "output", "output_model_1", "metric", "value", "passed"])
        names1 = {o["name"]: o["name_model_1"] for o in d["outputs"]}
        for sample, entry in d["samples"].items():
            for name, v in entry["values"].items():
                w.writerow([sample, name, names1[name], m["name"], _csv_num(v), _passes(m, v)])
        for row in ("worst", "mean", "overall"):
            for name, v in d[row].items():
                w.writerow([f"<{row}>", name, names1[name], m["name"], _csv_num(v), _passes(m, v)])
        return buf.getvalue()
    samples = list(d["samples"])
    cols = ["index", "layer", "name0", "name1", "op_type", "node", "metric", "worst", "mean", "overall", "passed",
            "isolated_worst", "isolated_overall", "isolated_passed", "steps_rms", "steps_max", "isolated_steps_rms",
            "isolated_steps_max", "identical", "isolated_identical", "note", "isolated_note"]
    dump_cols = ["dump_layout", "dump_verdict"] if d.get("dump_diagnosis") else []  # verify: simulator.dumps
    tensor_cols = ["clipped_share", "observed_min", "observed_max", "grid_min", "grid_max"]
    extra = _extra_fields(d["layers"], set(cols) | set(dump_cols))  # fields a result gained later, as they come
    w.writerow(cols + dump_cols + tensor_cols + extra + [f"sample:{s}" for s in samples])
    for i, layer in enumerate(d["layers"]):
        row = [i, layer["layer"], layer["name0"], layer["name1"], layer["op_type"], layer["node"], m["name"]]
        row += [_csv_num(layer.get(k)) for k in ("worst", "mean", "overall")]
        row += [_csv_bool(layer["passed"])]
        row += [_csv_num(layer.get(k)) for k in ("isolated_worst", "isolated_overall")]
        row += [_csv_bool(layer["isolated_passed"])]
        row += [_csv_num(layer.get(k)) for k in ("steps_rms", "steps_max", "isolated_steps_rms", "isolated_steps_max",
                                                 "identical", "isolated_identical")]
        row += [layer.get("note") or "", layer.get("isolated_note") or ""]
        row += [layer.get(c) or "" for c in dump_cols]
        t = layer.get("tensor") or {}
        observed, grid = t.get("observed_range") or [None, None], t.get("grid_range") or [None, None]
        row += [_csv_num(v) for v in (t.get("clipped_share"), *observed, *grid)]
        row += [_csv_value(layer.get(k)) for k in extra]
        row += [_csv_num(layer["values"].get(s)) for s in samples]
        w.writerow(row)
    return buf.getvalue()


_NOT_COLUMNS = {"values", "isolated_values", "tensor", "weights", "shape", "constant"}


def _extra_fields(layers: list[dict], known: set) -> list[str]:
    out = []
    for layer in layers:
        for k, v in layer.items():
            if k not in known and k not in _NOT_COLUMNS and k not in out and (v is None or isinstance(v, (int, float,
                                                                                                    str, bool))):
                out.append(k)
    return out


def _csv_value(v) -> str:
    return _csv_bool(v) if isinstance(v, bool) else (_csv_num(v) if isinstance(v, (int, float)) or v is None else v)


def _csv_num(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return repr(float(v)) if isinstance(v, float) else str(v)


def _csv_bool(v) -> str:
    return "" if v is None else ("true" if v else "false")


def _passes(m: dict, v) -> str:
    """The CSV's passed column: the metric's own rule (metrics.METRIC_INFO)."""
    return "true" if get_metric(m["name"]).passes(v, m["threshold"]) else "false"


# -- text -------------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _metric_line(m: dict) -> str:
    unit = f" [{m['unit']}]" if m["unit"] else ""
    k = f", k={m['k']}" if "k" in m else ""
    return f"metric {m['name']}{unit}{k} = {m['formula']}; {m['direction']}; threshold {m['threshold']:g}"


def _model_lines(d: dict) -> list[str]:
    out = []
    labels = ["model 0 (reference)", "model 1"] if d["kind"] == "inference" or d.get("compared") == "model 1" \
        else ["simulator (reference)", "dump"]
    for label, desc in zip(labels, d["models"]):
        if "dump" in desc:
            out.append(f"{label}: {desc['dump']} ({desc['format']})")
        else:
            out.append(f"{label}: {desc['model']} " + (f"+ {desc['encodings']}" if desc["encodings"] else "(float)"))
    return out


def to_text(d: dict) -> str:
    m = d["metric"]
    unit = m["unit"]
    lines = [_metric_line(m)] + _model_lines(d)
    if d["kind"] == "inference":
        names = [o["name"] for o in d["outputs"]]
        if d["matched_by"] == "position":
            lines.append("outputs matched by position: " + ", ".join(f"{o['name']} <-> {o['name_model_1']}"
                                                                     for o in d["outputs"]))
        rows = [[s, "yes" if e["passed"] else "NO"] + [fmt(e["values"][n], unit) for n in names]
                for s, e in d["samples"].items()]
        rows.append(["", ""] + [""] * len(names))
        for label in ("worst", "mean", "overall"):
            rows.append([{"overall": "all samples"}.get(label, label), ""] + [fmt(d[label][n], unit) for n in names])
        lines += [""] + _table(["sample", "passed"] + names, rows, set(range(2, 2 + len(names))))
        n_ok = d["num_samples"] - len(d["failed_samples"])
        lines += ["", f"RESULT: {'PASS' if d['passed'] else 'FAIL'} - {n_ok}/{d['num_samples']} sample(s) pass"]
        return "\n".join(lines)
    iso = any(layer["isolated_values"] for layer in d["layers"])
    steps = any("steps_rms" in layer for layer in d["layers"])
    header = ["#", "layer", "op", "worst", "all samples", "pass"]
    if iso:
        header += ["isolated worst", "iso pass"]
    if steps:
        header += ["steps rms/max"] + (["iso steps rms/max"] if iso else [])
    header += ["identical"] + (["iso identical"] if iso else [])
    clipped = any((layer.get("tensor") or {}).get("clipped_share") is not None for layer in d["layers"])
    if clipped:
        header += ["clipped"]
    header += ["note"]
    rows = []
    for i, layer in enumerate(d["layers"]):
        row = [str(i), layer["layer"], layer["op_type"], fmt(layer["worst"], unit), fmt(layer["overall"], unit),
               _pass_word(layer["passed"])]
        if iso:
            row += [fmt(layer["isolated_worst"], unit), _pass_word(layer["isolated_passed"])]
        if steps:
            row += [_steps(layer, "")] + ([_steps(layer, "isolated_")] if iso else [])
        row += [_share(layer.get("identical"))] + ([_share(layer.get("isolated_identical"))] if iso else [])
        if clipped:
            row += [_share((layer.get("tensor") or {}).get("clipped_share"))]
        row += [layer.get("note") or layer.get("isolated_note") or ""]
        rows.append(row)
    lines += [f"{d['num_samples']} sample(s), {len(d['layers'])} layer(s); isolated threshold "
              f"{d['isolated_threshold']:g}", ""]
    lines += _table(header, rows, {3, 4} | ({6} if iso else set()))
    if d.get("unmatched_files"):
        lines.append(f"dumped files naming no tensor of the model: {len(d['unmatched_files'])} "
                     f"(e.g. {', '.join(d['unmatched_files'][:5])})")
    lines += _dump_diagnosis_lines(d)
    lines += ["", f"first failing layer: {d['first_failure'] or 'none'}"]
    if iso:
        lines.append(f"first isolated failure: {d['first_isolated_failure'] or 'none'}")
    lines += [f"diagnosis ({d['verdict']}): {d['diagnosis']}",
              f"RESULT: {'PASS' if d['passed'] else 'FAIL'}"]
    return "\n".join(lines)


def _dump_diagnosis_lines(d: dict) -> list[str]:
    """Verification's layout and rounding-tie findings (simulator.dumps), when there are any."""
    diag = d.get("dump_diagnosis")
    if not diag:
        return []
    return ["", f"dump diagnosis: {diag['summary']}"] + [f"  {t['explanation']}" for t in diag["tensors"]
                                                         if t["layout"] != "as the model" or t["differing"]]


def _pass_word(v) -> str:
    return "-" if v is None else ("yes" if v else "NO")


def _share(v) -> str:
    """A share of identical elements: 100% only when all are (never rounded up to it)."""
    return "-" if v is None else ("100%" if v == 1 else f"{math.floor(v * 10000) / 100:.2f}%")


def _steps(layer: dict, prefix: str) -> str:
    if f"{prefix}steps_rms" not in layer:
        return "-"
    return f"{layer[prefix + 'steps_rms']:.3g}/{layer[prefix + 'steps_max']:.3g}"


# -- HTML -------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fde8e8} .pass{color:#176b2c;font-weight:600} .fail{color:#b00020;font-weight:600}
code{background:#f5f5f5;padding:1px 4px} .box{border-left:4px solid #888;padding:6px 12px;background:#fafafa}
svg text{font:11px system-ui,sans-serif}
"""

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def svg_plot(series, xlabels, threshold=None, unit="", title="", marker=None, width=960, height=340) -> str:
    """An inline SVG line plot. series: [(label, [value or None, ...])]; infinite values are drawn at the
    top (+inf) or bottom (-inf) edge with a triangle; `marker` is an x index to flag (first failure)."""
    left, right, top, bottom = 64, 16, 28, 86
    pw, ph = width - left - right, height - top - bottom
    finite = [v for _, vals in series for v in vals if v is not None and math.isfinite(v)]
    if threshold is not None:
        finite.append(threshold)
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    n = max(len(xlabels), 1)

    def x(i):
        return left + (pw * (i + 0.5) / n)

    def y(v):
        if math.isinf(v):
            return top if v > 0 else top + ph
        return top + ph * (1 - (v - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#999"/>']
    if title:
        out.append(f'<text x="{left}" y="16" font-weight="600">{html.escape(title)}</text>')
    for k in range(6):  # y grid
        v = lo + (hi - lo) * k / 5
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{html.escape(fmt(v, unit))}</text>')
    if threshold is not None:
        yy = y(threshold)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#b00020" '
                   f'stroke-dasharray="6 4"/><text x="{left + pw - 4}" y="{yy - 4:.1f}" text-anchor="end" '
                   f'fill="#b00020">threshold {threshold:g}</text>')
    if marker is not None and 0 <= marker < n:
        xx = x(marker)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{top + ph}" stroke="#b00020" '
                   f'stroke-width="2" opacity="0.5"><title>first failure</title></line>')
    step = max(1, n // 40)
    for i, label in enumerate(xlabels):
        if i % step:
            continue
        short = label if len(label) <= 28 else "..." + label[-25:]
        out.append(f'<text transform="translate({x(i):.1f},{top + ph + 8}) rotate(45)">{html.escape(short)}'
                   f'<title>{html.escape(label)}</title></text>')
    for si, (label, vals) in enumerate(series):
        color = _COLORS[si % len(_COLORS)]
        pts, path = [], []
        for i, v in enumerate(vals):
            if v is None or math.isnan(v):
                if path:
                    pts.append(path)
                path = []
                continue
            path.append((x(i), y(v), v, i))
        if path:
            pts.append(path)
        for run in pts:
            if len(run) > 1:
                d = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in run)
                out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.6"/>')
            for px, py, v, i in run:
                tip = html.escape(f"{label}: {xlabels[i] if i < len(xlabels) else i} = {fmt(v, unit)}")
                if math.isinf(v):
                    s = -1 if v > 0 else 1
                    out.append(f'<path d="M{px - 4:.1f},{py - 5 * s:.1f} L{px + 4:.1f},{py - 5 * s:.1f} '
                               f'L{px:.1f},{py + 2 * s:.1f} Z" fill="{color}"><title>{tip}</title></path>')
                else:
                    out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.6" fill="{color}"><title>{tip}</title>'
                               f'</circle>')
        lx = left + 8 + 170 * si
        out.append(f'<rect x="{lx}" y="{top + 6}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{lx + 14}" y="{top + 15}">{html.escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _cell(v, unit="", cls="num") -> str:
    return f'<td class="{cls}">{html.escape(fmt(v, unit))}</td>'


def to_html(d: dict, interactive: bool | None = None) -> str:
    """The comparison page: interactive (report_html.py) when Plotly is installed (the `report` extra), else
    the plain page with an SVG plot. interactive=True requires Plotly; False always gives the plain page."""
    if interactive is not False:
        from .report_html import plotly_js, to_interactive_html  # noqa: PLC0415

        source = plotly_js()
        if source is not None:
            return to_interactive_html(d, source, _jsonable, _dump_section(d))
        if interactive:
            raise ParameterError("the interactive report needs Plotly: pip install 'onnx-quant-simulator[report]'")
    return to_plain_html(d)


def _dump_section(d: dict) -> str:
    """verify's dump diagnosis (simulator.dumps) as static HTML, for both pages; empty where there is none."""
    if not d.get("dump_diagnosis"):
        return ""
    lines = _dump_diagnosis_lines(d)
    return "<h2>Dump diagnosis</h2><p>" + "<br>".join(html.escape(x) for x in lines[1:]) + "</p>"


def to_plain_html(d: dict) -> str:
    """The plain page: tables and an inline SVG plot, no JavaScript (the fallback without Plotly)."""
    m = d["metric"]
    unit = m["unit"]
    e = html.escape
    title = "Model comparison" if d["kind"] == "inference" else (
        "Layer-wise comparison" if d.get("compared") == "model 1" else "Featuremap verification")
    verdict = "PASS" if d["passed"] else "FAIL"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}: {verdict}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}: <span class='{'pass' if d['passed'] else 'fail'}'>{verdict}</span></h1>",
             "<div class='box'>" + "<br>".join(e(x) for x in _model_lines(d)) + "</div>",
             f"<p>Metric <b>{e(m['name'])}</b>{' (' + e(unit) + ')' if unit else ''}: <code>{e(m['formula'])}</code>; "
             f"{e(m['direction'])}; threshold <b>{m['threshold']:g}</b>"
             f"{'; k = ' + str(m['k']) if 'k' in m else ''}.</p>"]
    if d["kind"] == "inference":
        names = [o["name"] for o in d["outputs"]]
        samples = list(d["samples"])
        series = [(n, [d["samples"][s]["values"][n] for s in samples]) for n in names]
        parts.append(svg_plot(series, samples, m["threshold"], unit, f"{m['name']} per sample"))
        parts.append("<h2>Per sample</h2><table><tr><th>sample</th><th>passed</th>"
                     + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
        for s, entry in d["samples"].items():
            cls = "" if entry["passed"] else " class='fail'"
            parts.append(f"<tr{cls}><td>{e(s)}</td><td>{'yes' if entry['passed'] else 'NO'}</td>"
                         + "".join(_cell(entry["values"][n], unit) for n in names) + "</tr>")
        for label in ("worst", "mean", "overall"):
            parts.append(f"<tr><th>{'all samples (pooled)' if label == 'overall' else label}</th><th></th>"
                         + "".join(_cell(d[label][n], unit) for n in names) + "</tr>")
        parts.append("</table>")
    else:
        layers = d["layers"]
        labels = [layer["layer"] for layer in layers]
        first = next((i for i, layer in enumerate(layers) if layer["layer"] == d["first_failure"]), None)
        series = [("cumulative (worst sample)", [layer["worst"] for layer in layers])]
        if any(layer["isolated_values"] for layer in layers):
            series.append(("isolated (worst sample)", [layer["isolated_worst"] for layer in layers]))
        parts.append(f"<p><b>Diagnosis ({e(d['verdict'])}):</b> {e(d['diagnosis'])}</p>")
        parts.append(f"<p>First failing layer: <b>{e(d['first_failure'] or 'none')}</b>; first isolated failure: "
                     f"<b>{e(d['first_isolated_failure'] or 'none')}</b>. {d['num_samples']} sample(s). "
                     f"Cumulative: {e(d.get('compared', ''))} as it runs against {e(d.get('reference', ''))}; "
                     f"isolated: the layer's op re-run on the other side's inputs (threshold "
                     f"{d['isolated_threshold']:g}).</p>")
        parts.append(svg_plot(series, labels, m["threshold"], unit, f"{m['name']} per layer, graph order", first))
        parts.append("<h2>Layers</h2><table><tr><th>#</th><th>layer</th><th>op</th><th>worst</th><th>mean</th>"
                     "<th>all samples</th><th>pass</th><th>isolated worst</th><th>iso pass</th>"
                     "<th>steps rms / max</th><th>isolated steps rms / max</th><th>note</th></tr>")
        for i, layer in enumerate(layers):
            bad = layer["passed"] is False or layer["isolated_passed"] is False
            parts.append(f"<tr{' class=fail' if bad else ''}><td>{i}</td><td>{e(layer['layer'])}</td>"
                         f"<td>{e(layer['op_type'])}</td>" + _cell(layer["worst"], unit) + _cell(layer["mean"], unit)
                         + _cell(layer["overall"], unit) + f"<td>{_pass_word(layer['passed'])}</td>"
                         + _cell(layer["isolated_worst"], unit) + f"<td>{_pass_word(layer['isolated_passed'])}</td>"
                         + f"<td class='num'>{e(_steps(layer, ''))}</td><td class='num'>"
                         f"{e(_steps(layer, 'isolated_'))}</td>"
                         f"<td>{e(layer.get('note') or layer.get('isolated_note') or '')}</td></tr>")
        parts.append("</table>")
        if d.get("unmatched_files"):
            parts.append(f"<p>Dumped files naming no tensor of the model: {e(', '.join(d['unmatched_files'][:50]))}"
                         "</p>")
    parts.append(_dump_section(d))
    parts.append("<p style='color:#777'>Generated by the onnx-quant-simulator comparison "
                 "(docs/comparison.md).</p></body></html>")
    return "\n".join(parts)


__all__ = ["fmt", "to_json", "to_csv", "to_text", "to_html", "to_plain_html", "save", "svg_plot", "write_text"]
