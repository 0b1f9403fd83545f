"""Benchmark: samples per second of `simulator run` (simulator.inference.run_to_files) in one process, on a
local pool of worker processes and on a Dask LocalCluster, and the runner's own per-sample overhead.

    python benchmarks/bench_runner.py [--workers 2] [--resnet-samples 24] [--golden-samples 300] [--rounds 2]
                                      [--no-dask] [--json out.json]

Models: quantized ResNet-50 (the onnx package's light model zoo, 8-bit per-tensor encodings on every float
activation as benchmarks/bench.py makes them) on generated 1x3x224x224 samples, and the golden case
cnn_residual__w8a8__v1.0.0 (../shared/conformance/aimet) on copies of its samples. Each time covers the whole
call, including the pool's start (spawning, building the workers' sessions; a Dask cluster's workers are
already running, they only build their sessions) but not the main process's session; "serial, 1 BLAS
thread" is the one-process run with its BLAS limited to one thread (threadpoolctl), as each worker's is;
the fastest of --rounds interleaved rounds (serial, pool, Dask, then again, a second of rest between).
The overhead is the serial runner against a bare loop over the same samples (read + session.run + save).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

GOLDEN = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "aimet", "cnn_residual__w8a8__v1.0.0")


def resnet_case(tmp: str, n: int):
    from bench import calibrate, feeds_for, model_path  # noqa: PLC0415

    path = model_path("resnet50")
    feeds = feeds_for(path, "resnet50", 1)
    enc = calibrate(path, feeds, tmp)
    data = os.path.join(tmp, "resnet_data")
    os.makedirs(data)
    (name, first), = feeds.items()
    rng = np.random.default_rng(0)
    for i in range(n):
        x = first if i == 0 else rng.standard_normal(first.shape).astype(np.float32)
        np.save(os.path.join(data, f"s{i:05d}.npy"), x)
    return path, enc, data


def golden_case(tmp: str, n: int):
    src = os.path.join(GOLDEN, "data")
    data = os.path.join(tmp, "golden_data")
    os.makedirs(os.path.join(data, "input"))
    shutil.copy(os.path.join(src, "input_folder_mapping.json"), data)
    files = sorted(os.listdir(os.path.join(src, "input")))
    for i in range(n):
        shutil.copy(os.path.join(src, "input", files[i % len(files)]), os.path.join(data, "input", f"s{i:05d}.npy"))
    return os.path.join(GOLDEN, "model.onnx"), os.path.join(GOLDEN, "model.encodings"), data


def time_modes(model, enc, data, workers, rounds, client, tmp):
    from simulator.inference import run_to_files  # noqa: PLC0415
    from simulator.schema.base import InferenceRunnerParameters  # noqa: PLC0415
    from simulator.session import InferenceSession  # noqa: PLC0415

    base = dict(input_model_path=model, input_encodings_path=enc, input_data_path=data)
    session = InferenceSession.from_options(model, enc, InferenceRunnerParameters(**base))
    from simulator.data import count_samples  # noqa: PLC0415

    n = count_samples(data, session.interpreter.inputs)
    def serial_one_thread(out):
        from threadpoolctl import threadpool_limits  # noqa: PLC0415

        with threadpool_limits(1):
            return run_to_files(InferenceRunnerParameters(**base), out, session=session)

    modes = {"serial": lambda out: run_to_files(InferenceRunnerParameters(**base), out, session=session),
             "serial, 1 BLAS thread": serial_one_thread,
             f"{workers} workers": lambda out: run_to_files(InferenceRunnerParameters(**base, workers=workers), out,
                                                            session=session)}
    if client is not None:
        modes[f"Dask {workers} workers"] = lambda out: run_to_files(InferenceRunnerParameters(**base), out,
                                                                    executor=client, session=session)
    best = {m: float("inf") for m in modes}
    for _ in range(rounds):
        for m, fn in modes.items():
            out = tempfile.mkdtemp(dir=tmp)
            time.sleep(1.0)
            start = time.perf_counter()
            fn(out)
            best[m] = min(best[m], time.perf_counter() - start)
            shutil.rmtree(out)
    return n, {m: n / t for m, t in best.items()}


def overhead(model, enc, data, rounds, tmp):
    """Seconds per sample the serial runner adds to a bare loop (read, run, save)."""
    from simulator import data as _data  # noqa: PLC0415
    from simulator.inference import run_to_files, save_outputs  # noqa: PLC0415
    from simulator.schema.base import InferenceRunnerParameters  # noqa: PLC0415
    from simulator.session import InferenceSession  # noqa: PLC0415

    params = InferenceRunnerParameters(input_model_path=model, input_encodings_path=enc, input_data_path=data)
    session = InferenceSession.from_options(model, enc, params)
    names = [o.name for o in session.get_outputs()]

    def bare(out):
        reader = _data.SampleReader(data, session.interpreter.inputs)
        for s in reader.names:
            save_outputs(out, s, names, session.run(names, reader.read(s)))
        return len(reader.names)

    best = {"bare": float("inf"), "runner": float("inf")}
    for _ in range(rounds):
        for m, fn in (("bare", bare), ("runner", lambda out: run_to_files(params, out, session=session))):
            out = tempfile.mkdtemp(dir=tmp)
            start = time.perf_counter()
            fn(out)
            best[m] = min(best[m], time.perf_counter() - start)
            shutil.rmtree(out)
    n = _data.count_samples(data, session.interpreter.inputs)
    return (best["runner"] - best["bare"]) / n, best["bare"] / n


def _names_shard(state, names):
    return list(names)


def bookkeeping(n: int = 20000) -> float:
    """Seconds per sample of the runner itself (shards, ordered merge, progress) with a task that does nothing."""
    from simulator import runner  # noqa: PLC0415

    task = runner.Task("bench_runner:_names_shard", (), "bench_runner:_names_shard", "bench")
    names = [f"s{i:06d}" for i in range(n)]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        runner.run(task, names, lambda i, shard, result: None, progress=lambda s: None, local_state=object())
        best = min(best, time.perf_counter() - start)
    return best / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resnet-samples", type=int, default=24)
    ap.add_argument("--golden-samples", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    client = cluster = None
    if not args.no_dask:
        try:
            from distributed import Client, LocalCluster  # noqa: PLC0415
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        except ImportError:
            print("distributed is not installed: no Dask column (pip install '.[dask]')")
    results = {"cpus": os.cpu_count(), "workers": args.workers}
    tmp = tempfile.mkdtemp(prefix="bench-runner-")
    try:
        cases = [("golden cnn_residual w8a8", golden_case(tmp, args.golden_samples))]
        if args.resnet_samples:
            cases.append(("ResNet-50 quantized", resnet_case(tmp, args.resnet_samples)))
        for label, (model, enc, data) in cases:
            n, rates = time_modes(model, enc, data, args.workers, args.rounds, client, tmp)
            serial = rates["serial"]
            print(f"{label} ({n} samples): " + ", ".join(f"{m} {r:.1f}/s ({r / serial:.2f}x)" for m, r in rates.items()))
            results[label] = {"samples": n, "samples_per_s": rates}
        model, enc, data = cases[0][1]
        extra, per = overhead(model, enc, data, max(2 * args.rounds, 5), tmp)
        print(f"runner overhead, serial: {extra * 1e6:.0f} us per sample (bare loop {per * 1e3:.2f} ms per sample)")
        own = bookkeeping()
        print(f"runner bookkeeping alone (a task that does nothing): {own * 1e6:.2f} us per sample")
        results["bookkeeping_s_per_sample"] = own
        results["overhead_s_per_sample"] = extra
        results["bare_s_per_sample"] = per
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if client is not None:
            client.close()
            cluster.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
