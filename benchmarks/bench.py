"""Benchmark: the simulator (float and quantized) against ONNX Runtime and onnx.reference, same run.

    python benchmarks/bench.py [--models resnet50,squeezenet] [--repeat 9] [--rounds 3] [--batch 1,32]
                               [--devices cpu,cuda] [--no-reference] [--reference-repeat 2] [--memory]
                               [--default-malloc] [--json out.json]

Models: the onnx package's light model zoo (onnx/backend/test/data/light). Quantized mode puts an
8-bit per-tensor encoding on every float activation (min-max calibrated on the benchmark input).
Each time is the fastest of --repeat runs, taken in --rounds interleaved rounds (ONNX Runtime, float,
quantized, then again), each engine's runs in a round after half a second of rest and a warm-up run
(timed_rounds says why); ratios are computed per model and summarised by their geometric mean.
onnx.reference is timed --reference-repeat times after its warm-up (it is slow). The process reuses
freed memory as the `simulator` command does (simulator.backend.reuse_freed_memory; --default-malloc
leaves glibc's default). For a fair NumPy, run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this
machine sets them).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from simulator.backend import reuse_freed_memory  # noqa: E402
from simulator.session import InferenceSession  # noqa: E402

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
DEFAULT_MODELS = ["resnet50", "squeezenet", "inception_v2", "densenet121", "shufflenet", "vgg19"]


def model_path(name: str) -> str:
    return os.path.join(LIGHT, f"light_{name}.onnx")


def batched_model(name: str, batch: int, tmp: str) -> str:
    """The model with its batch dimension set to `batch` (constant Reshape targets follow)."""
    path = model_path(name)
    if batch == 1:
        return path
    model = onnx.load(path)
    inits = {t.name for t in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output):
        if vi.name not in inits and vi.type.tensor_type.shape.dim:
            vi.type.tensor_type.shape.dim[0].dim_value = batch
    shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    for t in model.graph.initializer:  # Reshape targets (1, ...) -> (batch, ...)
        if t.name in shapes:
            arr = onnx.numpy_helper.to_array(t).copy()
            if arr.size and arr[0] == 1:
                arr[0] = batch
                t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
    out = os.path.join(tmp, f"{name}_b{batch}.onnx")
    onnx.save(model, out)
    return out


def feeds_for(path: str, name: str, batch: int) -> dict:
    from onnx.backend.test.runner import Runner

    model = onnx.load(path, load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for x in model.graph.input:
        if x.name in inits:
            continue
        one = Runner.generate_dummy_data(x, seed=0, name=name, random=False) if batch == 1 else None
        if one is None:
            shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
            one = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        feeds[x.name] = one
    return feeds


def calibrate(path: str, feeds: dict, tmp: str) -> str:
    """8-bit asymmetric per-tensor encodings (AIMET 1.0.0) for every float activation."""
    ranges = {}

    def observe(name, value, raw):
        if getattr(value, "dtype", None) is not None and value.dtype.kind == "f" and value.size:
            v = np.asarray(raw)
            ranges[name] = (min(float(v.min()), 0.0), max(float(v.max()), 0.0))

    session = InferenceSession(path)
    session.interpreter.run({k: v for k, v in feeds.items()}, set(), observer=observe)
    entries = []
    for name, (lo, hi) in ranges.items():
        scale = (hi - lo) / 255 or 1.0
        entries.append({"name": name, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False,
                        "scale": [scale], "offset": [round(lo / scale)]})
    out = os.path.join(tmp, os.path.basename(path) + ".encodings")
    with open(out, "w") as f:
        json.dump({"version": "1.0.0", "activation_encodings": entries, "param_encodings": []}, f)
    return out


def numpy_twin(fn):
    """fn with the compiled loops switched off (ops._compiled.disabled): the NumPy twins' time."""
    from ops import _compiled  # noqa: PLC0415 - only the kernel benchmarks ask

    def call():
        with _compiled.disabled():
            return fn()
    return call


def timed(fn, repeat: int) -> float:
    """Fastest of `repeat` runs of fn after a warm-up run."""
    return timed_rounds({"fn": fn}, repeat, 1)["fn"]


def timed_rounds(fns: dict, repeat: int, rounds: int) -> dict:
    """Fastest time of each engine over `repeat` runs, taken in `rounds` interleaved rounds (engine A's
    runs, then B's, ..., then A's again), so that slow drifts of a shared machine reach every engine
    alike. The minimum, not the median: other tenants of a virtual machine only ever add time, and the
    median of nine runs still moved by 30% between identical runs here. Each engine's runs in a round follow half a second of rest, in which the threads of the
    engine timed before stop spinning for work (OpenBLAS waits about 0.1 s after its last GEMM) and
    would otherwise steal a core on a small machine, and one warm-up run."""
    times = {key: [] for key in fns}
    per_round = [repeat // rounds + (i < repeat % rounds) for i in range(rounds)]
    for count in per_round:
        for key, fn in fns.items():
            time.sleep(0.5)
            fn()  # warm-up
            for _ in range(count):
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
    return {key: min(ts) for key, ts in times.items()}


def runners(path: str, encodings: str, feeds: dict, devices: list[str], reference: bool) -> dict:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    ort_sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    out = {"ort": lambda: ort_sess.run(None, feeds)}
    for device in devices:
        cuda = device == "cuda"
        t = time.perf_counter()
        float_sess = InferenceSession(path, use_cuda=cuda)
        load = time.perf_counter() - t
        quant_sess = InferenceSession(path, encodings, use_cuda=cuda)
        out[f"sim_{device}_float"] = lambda s=float_sess: s.run(None, feeds)
        out[f"sim_{device}_quant"] = lambda s=quant_sess: s.run(None, feeds)
        out[f"sim_{device}_load_s"] = load
    if reference:
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(onnx.load(path))
        out["reference"] = lambda: ref.run(None, feeds)
    return out


def peak_memory(path: str, encodings: str, which: str, reuse: bool = True) -> float:
    """Peak RSS growth (MiB) of loading and running the model once in a fresh process, over its RSS
    after imports. Read from /proc (VmHWM): getrusage's ru_maxrss survives exec, so a child of a large
    parent would report the parent's peak."""
    code = f"""
import sys, numpy as np, onnx
sys.path.insert(0, {ROOT!r})
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import onnxruntime
from simulator.session import InferenceSession
from simulator.backend import reuse_freed_memory
from bench import feeds_for
if {reuse!r}:
    reuse_freed_memory()

def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])

feeds = feeds_for({path!r}, {os.path.basename(path)[6:-5]!r}, 1)
base = hwm()
if {which!r} == 'ort':
    s = onnxruntime.InferenceSession({path!r}, providers=['CPUExecutionProvider'])
else:
    s = InferenceSession({path!r}, {encodings!r} if {which!r} == 'quant' else None)
s.run(None, feeds)
print((hwm() - base) / 1024)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else float("nan")


def geomean(values):
    values = [v for v in values if v and np.isfinite(v)]
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--repeat", type=int, default=9, help="timed runs per engine and model")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds the runs are split into")
    p.add_argument("--batch", default="1")
    p.add_argument("--devices", default="cpu")
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--reference-repeat", type=int, default=2, help="timed runs of onnx.reference (it is slow)")
    p.add_argument("--memory", action="store_true", help="also measure peak memory (batch 1, CPU)")
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--default-malloc", action="store_true",
                   help="leave glibc's malloc as it is (by default this process reuses freed memory, as the CLI does)")
    args = p.parse_args(argv)
    if not args.default_malloc:
        reuse_freed_memory()  # as the `simulator` command does (simulator/backend.py)
    devices = args.devices.split(",")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (int(b) for b in args.batch.split(",")):
            for name in args.models.split(","):
                path = batched_model(name, batch, tmp)
                feeds = feeds_for(path, name, batch)
                encodings = calibrate(path, feeds, tmp)
                fns = runners(path, encodings, feeds, devices, not args.no_reference and batch == 1)
                row = {"model": name, "batch": batch}
                row.update({key: value for key, value in fns.items() if key.endswith("_load_s")})
                engines = {key: fn for key, fn in fns.items() if not key.endswith("_load_s") and key != "reference"}
                row.update(timed_rounds(engines, args.repeat, min(args.rounds, args.repeat)))
                if "reference" in fns:
                    row["reference"] = timed(fns["reference"], args.reference_repeat)
                if args.memory and batch == 1:
                    for which in ("ort", "float", "quant"):
                        row[f"peak_mib_{which}"] = peak_memory(path, encodings, which, not args.default_malloc)
                results.append(row)
                print(_row_text(row, devices), flush=True)
    print()
    print(_summary(results, devices))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def _row_text(row, devices) -> str:
    parts = [f"{row['model']:13} b{row['batch']:<3} ort {row['ort'] * 1e3:8.1f} ms"]
    for d in devices:
        f, q = row[f"sim_{d}_float"], row[f"sim_{d}_quant"]
        parts.append(f"{d} float {f * 1e3:8.1f} ms ({f / row['ort']:.2f}x ort)  quant {q * 1e3:8.1f} ms "
                     f"({q / f:.2f}x float)  load {row[f'sim_{d}_load_s']:.2f} s")
    if "reference" in row:
        parts.append(f"reference {row['reference'] * 1e3:9.1f} ms ({row['reference'] / row['sim_cpu_float']:.0f}x "
                     f"slower than sim)" if "sim_cpu_float" in row else "")
    if "peak_mib_ort" in row:
        parts.append(f"peak MiB ort {row['peak_mib_ort']:.0f} float {row['peak_mib_float']:.0f} "
                     f"quant {row['peak_mib_quant']:.0f}")
    return " | ".join(parts)


def _summary(results, devices) -> str:
    lines = ["geometric means over the models:"]
    for batch in sorted({r["batch"] for r in results}):
        rows = [r for r in results if r["batch"] == batch]
        for d in devices:
            lines.append(f"  batch {batch} {d}: float/ort {geomean([r[f'sim_{d}_float'] / r['ort'] for r in rows]):.2f}"
                         f"  quant/float {geomean([r[f'sim_{d}_quant'] / r[f'sim_{d}_float'] for r in rows]):.2f}")
        if "sim_cpu_float" in rows[0] and "reference" in rows[0]:
            lines.append(f"  batch {batch} reference/sim float: "
                         f"{geomean([r['reference'] / r['sim_cpu_float'] for r in rows]):.0f}x")
        if "peak_mib_ort" in rows[0]:
            lines.append(f"  peak memory sim float/ort: {geomean([r['peak_mib_float'] / r['peak_mib_ort'] for r in rows]):.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
