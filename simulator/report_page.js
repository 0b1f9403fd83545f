// The comparison page, built in the browser from the result's to_dict() (report_html.py embeds it).
// Plotly draws the charts; the table, the controls and the per-tensor panel are plain DOM.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const M = D.metric, UNIT = M.unit || "", HIB = M.higher_is_better;
  const app = document.getElementById("app");
  const PLOT_CONFIG = {responsive: true, displaylogo: false, scrollZoom: true};
  const COLORS = {cum: "#1f77b4", iso: "#d62728", ref: "#1f77b4", cmp: "#ff7f0e", grid: "#2ca02c"};

  // -- values ------------------------------------------------------------------------------------
  function num(v) {  // JSON writes non-finite numbers as strings
    if (v === "inf") return Infinity;
    if (v === "-inf") return -Infinity;
    if (v === "nan") return NaN;
    return typeof v === "number" ? v : null;
  }
  function sig(v, digits) {  // enough digits to tell the value from a round number (0.99996, not 1)
    let t = v.toPrecision(digits);
    for (let d = digits + 1; d <= 9 && Number(t) !== v && Number(t) === Math.round(Number(t)); d++) t = v.toPrecision(d);
    return String(Number(t));
  }
  function fmt(v, unit) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "boolean") return v ? "yes" : "NO";
    if (typeof v === "string" && !["inf", "-inf", "nan"].includes(v)) return v;
    const x = num(v);
    if (Number.isNaN(x)) return "nan";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    return unit === "dB" ? x.toFixed(2) : sig(x, 4);
  }
  function pct(v) {  // a share: 100 % only when it is all (99.996 %, not 100 %)
    const x = num(v);
    return x === null || Number.isNaN(x) ? "-" : sig(100 * x, 3) + " %";
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function badness(v) {  // larger is worse; missing values sort last
    const x = num(v);
    if (x === null || Number.isNaN(x)) return -Infinity;
    return HIB ? -x : x;
  }
  function passes(v, threshold) {
    const x = num(v);
    if (x === null || Number.isNaN(x)) return false;
    return HIB ? x >= threshold : x <= threshold;
  }

  // -- header --------------------------------------------------------------------------------------
  app.append(el("h1", {}, D.title + ": ", el("span", {class: D.passed ? "pass" : "fail", id: "verdict"},
                                            D.passed ? "PASS" : "FAIL")));
  const labels = D.kind === "inference" || D.compared === "model 1" ? ["model 0 (reference)", "model 1"]
                                                                      : ["simulator (reference)", "dump"];
  const box = el("div", {class: "box"});
  D.models.forEach((m, i) => {
    box.append(labels[i] + ": " + (m.dump ? `${m.dump} (${m.format})` : `${m.model} ` +
               (m.encodings ? "+ " + m.encodings : "(float)")), el("br"));
  });
  box.append(`metric ${M.name}${UNIT ? " [" + UNIT + "]" : ""} = `, el("code", {}, M.formula),
             `; ${M.direction}; threshold ${M.threshold}` + (M.k ? `; k = ${M.k}` : ""));
  app.append(box);

  if (D.kind === "inference") inferencePage(); else layerPage();
  extraSections();

  // -- per-layer page ------------------------------------------------------------------------------
  function layerPage() {
    const layers = D.layers.map((l, i) => Object.assign({index: i, hidden: D.hidden[i]}, l));
    const hasIso = layers.some(l => Object.keys(l.isolated_values || {}).length);
    const hasSteps = layers.some(l => "steps_max" in l);
    const nHidden = layers.filter(l => l.hidden).length;
    const diag = el("div", {class: "box" + (D.passed ? "" : " bad")});
    diag.append(el("b", {}, `Diagnosis (${D.verdict}): `), D.diagnosis, el("br"),
                "First failing layer: ", firstLink(D.first_failure),
                hasIso ? "; first isolated failure: " : "", hasIso ? firstLink(D.first_isolated_failure) : "",
                `. ${D.num_samples} sample(s), ${layers.length} layer(s). Cumulative: ${D.compared} as it runs ` +
                `against ${D.reference}; isolated: the layer's op re-run on the other side's inputs ` +
                `(threshold ${D.isolated_threshold}).`);
    app.append(diag);
    function firstLink(name) {
      if (!name) return el("b", {}, "none");
      return el("a", {href: "#", class: "first-link", onclick: (e) => { e.preventDefault(); select(byKey[name]); }},
                el("b", {}, name));
    }
    const byKey = {};
    layers.forEach(l => { byKey[l.layer] = l; });

    // controls
    const showAll = el("input", {type: "checkbox", id: "show-hidden"});
    const mode = el("select", {id: "y-mode"}, el("option", {value: "metric"}, `${M.name}${UNIT ? " (" + UNIT + ")" : ""}`));
    if (hasSteps) {
      mode.append(el("option", {value: "steps_max"}, "error in quantization steps (max)"),
                  el("option", {value: "steps_rms"}, "error in quantization steps (rms)"));
    }
    const logY = el("input", {type: "checkbox", id: "log-y"});
    app.append(el("h2", {}, "Per layer, graph order"),
               el("div", {class: "controls"},
                  el("label", {}, showAll, ` show constants and data-movement layers (${nHidden} hidden)`),
                  el("label", {}, "y axis: ", mode),
                  el("label", {}, logY, " log scale (steps)"),
                  el("span", {class: "muted"}, "drag to zoom, double-click to reset; click a point for the tensor")));
    const chart = el("div", {class: "chart", id: "layer-chart"});
    app.append(chart);

    function visible() { return layers.filter(l => showAll.checked || !l.hidden); }
    function ys(l, which) {
      const m = mode.value, pre = which === "iso" ? "isolated_" : "";
      if (m === "metric") return num(which === "iso" ? l.isolated_worst : l.worst);
      const v = l[pre + m];
      return v === undefined ? null : num(v);
    }
    function drawChart() {
      const vis = visible(), m = mode.value, isMetric = m === "metric";
      const xs = vis.map(l => l.index);  // the layer's number in graph order, as in the table's "#"
      const finite = [];
      const series = {cum: vis.map(l => ys(l, "cum")), iso: hasIso ? vis.map(l => ys(l, "iso")) : []};
      for (const arr of [series.cum, series.iso]) for (const v of arr) if (v !== null && Number.isFinite(v)) finite.push(v);
      if (isMetric) finite.push(M.threshold);
      let lo = finite.length ? Math.min(...finite) : 0, hi = finite.length ? Math.max(...finite) : 1;
      const span = hi - lo || Math.max(Math.abs(hi), 1);
      const cap = hi + 0.12 * span;  // where infinite values (identical tensors) are drawn
      const traces = [];
      function add(which, name, color, lines) {
        const raw = series[which];
        const y = raw.map(v => (v === null || !Number.isFinite(v)) ? null : v);
        const text = vis.map((l, i) => `#${l.index} ${l.layer}<br>${l.op_type}: ${fmt(raw[i], isMetric ? UNIT : "")}`);
        traces.push({type: "scatter", mode: lines ? "lines+markers" : "markers", name, x: xs, y, text,
                     customdata: vis.map(l => l.index), hovertemplate: "%{text}<extra>" + name + "</extra>",
                     line: {color, width: 1.5}, marker: {color, size: lines ? 5 : 7, symbol: lines ? "circle" : "x"},
                     connectgaps: false});
        const inf = raw.map((v, i) => (v !== null && !Number.isFinite(v) && !Number.isNaN(v)) ? i : -1).filter(i => i >= 0);
        if (inf.length) {
          traces.push({type: "scatter", mode: "markers", name: name + ": " + (HIB ? "identical (inf)" : "inf"),
                       x: inf.map(i => xs[i]), y: inf.map(() => cap), customdata: inf.map(i => vis[i].index),
                       text: inf.map(i => `#${vis[i].index} ${vis[i].layer}<br>${vis[i].op_type}: ${fmt(raw[i])}`),
                       hovertemplate: "%{text}<extra></extra>",
                       marker: {color, size: 8, symbol: "triangle-up", opacity: 0.6}});
        }
      }
      add("cum", "cumulative (worst sample)", COLORS.cum, true);
      if (hasIso) add("iso", "isolated (worst sample)", COLORS.iso, false);
      const shapes = [], annotations = [];
      if (isMetric) {
        shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: M.threshold, y1: M.threshold,
                     line: {color: "#b00020", dash: "dash", width: 1}});
        annotations.push({xref: "paper", x: 1, y: M.threshold, yanchor: "bottom", xanchor: "right", showarrow: false,
                          text: `threshold ${M.threshold}`, font: {color: "#b00020", size: 11}});
      }
      const firstLayer = vis.find(l => l.layer === D.first_failure);
      const first = firstLayer ? firstLayer.index : -1;
      if (first >= 0) {
        shapes.push({type: "line", yref: "paper", x0: first, x1: first, y0: 0, y1: 1,
                     line: {color: "#b00020", width: 2}, opacity: 0.6});
        annotations.push({yref: "paper", x: first, y: 1, yanchor: "bottom", showarrow: false, font: {color: "#b00020"},
                          text: "first failure: " + short(D.first_failure, 40)});
      }
      const logOk = logY.checked && !isMetric;
      const yaxis = {title: {text: isMetric ? `${M.name}${UNIT ? " (" + UNIT + ")" : ""}` : "quantization steps"},
                     zeroline: false, automargin: true, type: logOk ? "log" : "linear"};
      if (!logOk) yaxis.range = [lo - 0.06 * span, cap + 0.06 * span];
      if (traces.some(t => t.name.includes(": "))) {  // the row of infinite values, labelled as such
        shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: cap, y1: cap, line: {color: "#999", dash: "dot", width: 1}});
        annotations.push({xref: "paper", x: 0, y: cap, xanchor: "left", yanchor: "bottom", showarrow: false,
                          text: HIB ? "identical (inf)" : "inf", font: {color: "#666", size: 11}});
      }
      const layout = {margin: {l: 70, r: 20, t: 64, b: 50}, hovermode: "closest", shapes, annotations,
                      legend: {orientation: "h", x: 0, xanchor: "left", yref: "container", y: 1, yanchor: "top"},
                      xaxis: {title: {text: `layer # in graph order (${vis.length} of ${layers.length} shown; names on hover and in the table)`},
                              zeroline: false, rangeslider: {visible: vis.length > 60, thickness: 0.06}},
                      yaxis};
      Plotly.react(chart, traces, layout, PLOT_CONFIG);
    }
    function short(s, n) { return s.length <= n ? s : "…" + s.slice(s.length - n + 1); }

    // the table: columns from the layers' dicts
    const SKIP = new Set(["index", "hidden", "layer", "name0", "name1", "node", "constant", "values", "isolated_values",
                          "tensor", "weights", "shape", "note", "isolated_note"]);
    // what a user reads first, then whatever else the result carries (fields other changes add)
    const FIRST = ["worst", "isolated_worst", "passed", "isolated_passed", "steps_max", "isolated_steps_max",
                   "identical", "isolated_identical", "clipped"];
    const keys = ["clipped"];
    for (const l of layers) for (const [k, v] of Object.entries(l)) {
      if (!SKIP.has(k) && !keys.includes(k) && (v === null || ["number", "string", "boolean"].includes(typeof v))) keys.push(k);
    }
    const cols = [{key: "index", label: "#", num: true}, {key: "layer", label: "layer", name: true},
                  {key: "op_type", label: "op"}];
    for (const k of FIRST.filter(k => keys.includes(k)).concat(keys.filter(k => !FIRST.includes(k) && k !== "op_type"))) {
      cols.push({key: k, label: k.replace(/_/g, " "), metric: /^(isolated_)?(worst|mean|overall)$/.test(k),
                 share: /(identical|_share|_fraction|^clipped)$/.test(k)});
    }
    cols.push({key: "note", label: "note", get: l => l.note || l.isolated_note || ""});
    for (const c of cols) if (!c.get) c.get = l => l[c.key];
    cols.find(c => c.key === "clipped").get = l => (l.tensor && l.tensor.clipped_share !== undefined) ? l.tensor.clipped_share : null;
    for (const c of cols) {  // right-aligned when the column holds numbers (its "-" cells too)
      c.numeric = c.num || c.share || c.metric || layers.some(l => { const v = c.get(l); return typeof v === "number"; });
    }

    const filter = el("input", {type: "search", id: "layer-filter", placeholder: "filter by name or op"});
    const count = el("span", {class: "muted", id: "row-count"});
    app.append(el("h2", {}, "Layers"), el("div", {class: "controls"}, filter, count,
                 el("span", {class: "muted"}, "click a column to sort; default: worst isolated first")));
    const table = el("table", {id: "layer-table"});
    const thead = el("thead"), tbody = el("tbody");
    const headRow = el("tr");
    cols.forEach(c => headRow.append(el("th", {"data-key": c.key, onclick: () => sortBy(c.key)}, c.label)));
    thead.append(headRow);
    table.append(thead, tbody);
    app.append(el("div", {class: "tablewrap", id: "table-wrap"}, table));
    const rows = layers.map(l => {
      const tr = el("tr", {"data-index": l.index, onclick: () => select(l)});
      if (l.passed === false || l.isolated_passed === false) tr.classList.add("failrow");
      for (const c of cols) {
        const v = c.get(l);
        let text;
        if (c.share) text = pct(v);
        else text = fmt(v, c.metric ? UNIT : "");
        const td = el("td", {class: c.name ? "name" : (c.numeric ? "num" : "")}, text);
        if (c.name) td.title = l.layer + (l.hidden ? ` (${l.hidden})` : "");
        tr.append(td);
      }
      l.row = tr;
      return tr;
    });
    let sortKey = hasIso ? "isolated_worst" : "worst", sortDir = "worst";
    function sortValue(l, key) {
      const c = cols.find(c => c.key === key);
      const v = c.get(l);
      if (c.metric) return badness(v);
      if (typeof v === "boolean") return v ? 1 : 0;
      const x = num(v);
      return x !== null ? (Number.isNaN(x) ? -Infinity : x) : (v === null || v === undefined ? -Infinity : String(v));
    }
    function sortBy(key) {
      if (key === sortKey) sortDir = sortDir === "worst" ? "best" : "worst"; else { sortKey = key; sortDir = "worst"; }
      applySort();
    }
    function applySort() {
      const c = cols.find(c => c.key === sortKey);
      const worstFirstIsDesc = Boolean(c.metric || c.share || c.key.includes("steps"));  // metric: by badness
      const desc = (sortDir === "worst") === worstFirstIsDesc;
      const sorted = layers.slice().sort((a, b) => {
        const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
        if (typeof x === "string" || typeof y === "string") {
          const r = String(x).localeCompare(String(y));
          return sortDir === "worst" ? r : -r;
        }
        if (x === y) return a.index - b.index;
        return desc ? (y - x) : (x - y);
      });
      for (const l of sorted) tbody.append(l.row);
      for (const th of headRow.children) {
        th.classList.remove("sorted-asc", "sorted-desc");
        if (th.dataset.key === sortKey) th.classList.add(desc ? "sorted-desc" : "sorted-asc");
      }
    }
    function applyFilter() {
      const q = filter.value.trim().toLowerCase();
      let n = 0;
      for (const l of layers) {
        const show = (showAll.checked || !l.hidden) && (!q || l.layer.toLowerCase().includes(q) ||
                                                         String(l.op_type).toLowerCase().includes(q));
        l.row.classList.toggle("hiddenrow", !show);
        n += show;
      }
      count.textContent = `${n} of ${layers.length} layer(s) shown`;
    }
    filter.addEventListener("input", applyFilter);
    showAll.addEventListener("change", () => { applyFilter(); drawChart(); });
    mode.addEventListener("change", drawChart);
    logY.addEventListener("change", drawChart);

    // per tensor, on demand
    const detail = el("div", {id: "detail"}, el("span", {class: "muted"},
                      "Click a layer (chart or table) for its histogram, its range against the encoding, its samples " +
                      "and its weights' per-channel ranges."));
    app.append(el("h2", {}, "Tensor"), detail);
    let selected = null;
    function select(l) {
      if (!l) return;
      if (selected) selected.row.classList.remove("selected");
      selected = l;
      l.row.classList.add("selected");
      if (l.hidden && !showAll.checked) { showAll.checked = true; applyFilter(); drawChart(); }
      l.row.scrollIntoView({block: "nearest"});
      showTensor(l);
    }
    function showTensor(l) {
      detail.replaceChildren();
      const t = l.tensor || {};
      detail.append(el("h3", {}, `#${l.index} ${l.layer}`),
                    el("div", {class: "muted"}, `${l.op_type}${l.node ? " node " + l.node : ""}` +
                       (l.shape ? `, shape [${l.shape.join(", ")}]` : "") + (l.hidden ? ` (${l.hidden})` : "")));
      const st = el("table", {class: "stats"});
      const r = (a) => a ? `${fmt(a[0])} … ${fmt(a[1])}` : "-";
      const add = (k, v) => st.append(el("tr", {}, el("td", {}, k), el("td", {}, v)));
      add(`${D.reference} values`, r(t.reference_range));
      add(`${D.compared} values`, r(t.compared_range));
      add(`${D.compared} before its encoding (observed)`, r(t.observed_range));
      add("encoding's grid", t.grid_range ? r(t.grid_range) : "none (not quantized)");
      add("observed values outside the grid (clipped)",
          t.clipped_share === undefined ? "-" : pct(t.clipped_share));
      add(`cumulative ${M.name} (worst / all samples)`, `${fmt(l.worst, UNIT)} / ${fmt(l.overall, UNIT)}`);
      if (hasIso) add(`isolated ${M.name} (worst / all samples)`, `${fmt(l.isolated_worst, UNIT)} / ${fmt(l.isolated_overall, UNIT)}`);
      if (l.note || l.isolated_note) add("note", l.note || l.isolated_note);
      detail.append(st);
      const g = el("div", {class: "grid2"});
      const hist = el("div", {class: "chart small", id: "hist-chart"}), samp = el("div", {class: "chart small", id: "tensor-samples"});
      g.append(hist, samp);
      detail.append(g);
      if (t.histogram) {
        const [lo, hi] = t.histogram.range, w = (hi - lo) / t.histogram.reference.length;
        const mids = t.histogram.reference.map((_, i) => lo + (i + 0.5) * w);
        const shapes = [];
        if (t.grid_range) for (const x of t.grid_range) {
          shapes.push({type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: {color: COLORS.grid, dash: "dot", width: 2}});
        }
        Plotly.newPlot(hist, [
          {type: "bar", name: D.reference, x: mids, y: t.histogram.reference, width: w, marker: {color: COLORS.ref}, opacity: 0.55},
          {type: "bar", name: D.compared, x: mids, y: t.histogram.compared, width: w, marker: {color: COLORS.cmp}, opacity: 0.55}],
          {barmode: "overlay", title: {text: `values (${t.histogram.samples} sample(s)); dotted: the encoding's grid range`,
                                       font: {size: 13}, x: 0.01, xanchor: "left"},
           margin: {l: 60, r: 10, t: 40, b: 40}, yaxis: {type: "log", title: {text: "count"}}, shapes,
           legend: {orientation: "h", y: -0.2}}, PLOT_CONFIG);
      } else hist.append(el("p", {class: "muted"}, "no histogram (not a numeric tensor, or not compared)"));
      const names = Object.keys(l.values || {});
      const sTraces = [{type: "scatter", mode: "markers", name: "cumulative", x: names, y: names.map(s => capInf(l.values[s])),
                        marker: {color: COLORS.cum, size: 8}}];
      if (Object.keys(l.isolated_values || {}).length) {
        sTraces.push({type: "scatter", mode: "markers", name: "isolated", x: names, y: names.map(s => capInf(l.isolated_values[s])),
                      marker: {color: COLORS.iso, symbol: "x", size: 8}});
      }
      Plotly.newPlot(samp, sTraces, {title: {text: `${M.name} per sample (infinite values not drawn)`, font: {size: 13}, x: 0.01, xanchor: "left"},
                                     margin: {l: 60, r: 10, t: 40, b: 60}, xaxis: {type: "category", automargin: true},
                                     legend: {orientation: "h", y: -0.3}}, PLOT_CONFIG);
      for (const wr of l.weights || []) {
        const div = el("div", {class: "chart small"});
        detail.append(div);
        const ch = wr.min.map((_, i) => i * wr.group);
        const tr = [{type: "bar", name: "weight min … max", x: ch, base: wr.min, y: wr.max.map((v, i) => v - wr.min[i]),
                     marker: {color: "#7f7f7f"}, hovertemplate: "channel %{x}: %{base:.4g} … %{customdata:.4g}<extra></extra>",
                     customdata: wr.max}];
        if (wr.grid_min) {
          tr.push({type: "scatter", mode: "markers", name: "grid min/max", x: ch.concat(ch), y: wr.grid_min.concat(wr.grid_max),
                   marker: {color: COLORS.grid, symbol: "line-ew-open", size: 10, line: {width: 2}}});
        }
        Plotly.newPlot(div, tr, {title: {text: `weight ${wr.name}: per-channel range (axis ${wr.axis}, ${wr.channels} channels` +
                                          (wr.group > 1 ? `, grouped by ${wr.group}` : "") + ")", font: {size: 13}, x: 0.01, xanchor: "left"},
                                 margin: {l: 60, r: 10, t: 40, b: 40}, xaxis: {title: {text: "channel"}}, bargap: 0.1,
                                 legend: {orientation: "h", y: -0.25}}, PLOT_CONFIG);
      }
    }
    function capInf(v) { const x = num(v); return x === null || !Number.isFinite(x) ? null : x; }

    samplesSection(Object.fromEntries(Object.entries(D.samples).map(([s, e]) => [s, e.values])), "layer");
    applyFilter();
    applySort();
    drawChart();
    chart.on("plotly_click", ev => { if (ev.points.length) select(layers[ev.points[0].customdata]); });
    window.reportPage = {layers, select, sortBy, drawChart};
  }

  // -- samples: points per sample, worst samples ----------------------------------------------------
  function samplesSection(values, what) {  // values: {sample: {name: value}}
    const samples = Object.keys(values);
    if (!samples.length) return;
    app.append(el("h2", {}, "Per sample"));
    const worst = samples.map(s => {
      let wk = null, wv = null;
      for (const [k, v] of Object.entries(values[s])) if (wk === null || badness(v) > badness(wv)) { wk = k; wv = v; }
      return {sample: s, name: wk, value: wv};
    });
    const div = el("div", {class: "chart small", id: "sample-chart"});
    app.append(div);
    const names = [];
    for (const s of samples) for (const k of Object.keys(values[s])) if (!names.includes(k)) names.push(k);
    const traces = [{type: "scatter", mode: "markers", name: `worst ${what} of the sample`, x: samples,
                     y: worst.map(w => capNum(w.value)), text: worst.map(w => w.name || ""),
                     hovertemplate: "%{x}: %{y} at %{text}<extra></extra>", marker: {size: 9, color: "#d62728"}}];
    if (what === "layer") {
      const last = D.layers.length ? D.layers[D.layers.length - 1].layer : null;
      if (last) traces.push({type: "scatter", mode: "markers", name: `last layer (${last})`, x: samples,
                             y: samples.map(s => capNum(values[s][last])), marker: {size: 8, symbol: "diamond", color: "#1f77b4"}});
    }
    if (what === "output") {
      names.forEach(n => traces.push({type: "scatter", mode: "markers", name: n, x: samples,
                                      y: samples.map(s => capNum(values[s][n])), marker: {size: 7, symbol: "circle-open"}}));
    }
    Plotly.newPlot(div, traces, {margin: {l: 60, r: 10, t: 30, b: 60}, xaxis: {type: "category", automargin: true},
                                 showlegend: true,
                                 legend: {orientation: "h", x: 0, y: 1, yanchor: "bottom"},
                                 shapes: [{type: "line", xref: "paper", x0: 0, x1: 1, y0: M.threshold, y1: M.threshold,
                                           line: {color: "#b00020", dash: "dash", width: 1}}],
                                 yaxis: {title: {text: M.name + (UNIT ? ` (${UNIT})` : "")}}}, PLOT_CONFIG);
    const top = worst.slice().sort((a, b) => badness(b.value) - badness(a.value)).slice(0, 10);
    const t = el("table", {id: "worst-samples"});
    t.append(el("tr", {}, el("th", {}, "worst samples"), el("th", {}, M.name), el("th", {}, `at ${what}`), el("th", {}, "passed")));
    for (const w of top) {
      t.append(el("tr", {class: passes(w.value, M.threshold) ? "" : "failrow"}, el("td", {}, w.sample),
                  el("td", {class: "num"}, fmt(w.value, UNIT)), el("td", {class: "name"}, w.name || "-"),
                  el("td", {}, passes(w.value, M.threshold) ? "yes" : "NO")));
    }
    app.append(el("div", {class: "tablewrap"}, t));
  }
  function capNum(v) { const x = num(v); return x === null || !Number.isFinite(x) ? null : x; }

  // -- output comparison page ------------------------------------------------------------------------
  function inferencePage() {
    const names = D.outputs.map(o => o.name);
    if (D.matched_by === "position") {
      app.append(el("p", {}, "outputs matched by position: " + D.outputs.map(o => `${o.name} ↔ ${o.name_model_1}`).join(", ")));
    }
    const t = el("table", {id: "summary"});
    t.append(el("tr", {}, el("th", {}, "output"), el("th", {}, "worst"), el("th", {}, "mean"), el("th", {}, "all samples (pooled)")));
    for (const n of names) {
      t.append(el("tr", {class: passes(D.worst[n], M.threshold) ? "" : "failrow"}, el("td", {}, n),
                  el("td", {class: "num"}, fmt(D.worst[n], UNIT)), el("td", {class: "num"}, fmt(D.mean[n], UNIT)),
                  el("td", {class: "num"}, fmt(D.overall[n], UNIT))));
    }
    app.append(el("h2", {}, "Outputs"), t,
               el("p", {}, `${D.num_samples - D.failed_samples.length} of ${D.num_samples} sample(s) pass.`));
    samplesSection(Object.fromEntries(Object.entries(D.samples).map(([s, e]) => [s, e.values])), "output");
  }

  // -- results this page has no dedicated view for (e.g. sensitivity), as tables -------------------
  function extraSections() {
    const KNOWN = new Set(["kind", "metric", "models", "outputs", "matched_by", "passed", "num_samples", "failed_samples",
                           "samples", "worst", "mean", "overall", "isolated_threshold", "reference", "compared",
                           "verdict", "diagnosis", "first_failure", "first_isolated_failure", "layers", "unmatched_files",
                           "export_featuremap_path", "title", "hidden"]);
    for (const [k, v] of Object.entries(D)) {
      if (KNOWN.has(k) || v === null) continue;
      app.append(el("h2", {}, k.replace(/_/g, " ")));
      const rows = Array.isArray(v) ? v : (typeof v === "object" ? Object.entries(v).map(([a, b]) =>
        (b && typeof b === "object" && !Array.isArray(b)) ? Object.assign({name: a}, b) : {name: a, value: b}) : [{value: v}]);
      const cols = [];
      for (const r of rows) if (r && typeof r === "object") for (const [c, x] of Object.entries(r)) {
        if (!cols.includes(c) && (x === null || typeof x !== "object")) cols.push(c);
      }
      if (!cols.length) { app.append(el("pre", {}, JSON.stringify(v, null, 1).slice(0, 20000))); continue; }
      const t = el("table", {class: "extra"});
      t.append(el("tr", {}, ...cols.map(c => el("th", {}, c.replace(/_/g, " ")))));
      for (const r of rows) t.append(el("tr", {}, ...cols.map(c => el("td", {}, fmt(r && typeof r === "object" ? r[c] : r)))));
      app.append(el("div", {class: "tablewrap"}, t));
    }
    if (D.unmatched_files && D.unmatched_files.length) {
      app.append(el("p", {}, `Dumped files naming no tensor of the model: ${D.unmatched_files.length} (e.g. ` +
                             D.unmatched_files.slice(0, 20).join(", ") + ")"));
    }
    app.append(el("p", {class: "muted"}, "Generated by the onnx-quant-simulator comparison (docs/comparison.md). " +
                                         "The JSON, CSV and text reports carry the same numbers."));
  }
})();
