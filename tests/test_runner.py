"""simulator.runner: every sample loop on 1, 2 and 3 worker processes and on a Dask cluster gives the serial
run's bits; a killed worker and a resumed run end with the serial result; memory stays flat in the number of
samples."""
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import signal
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.accumulators import rethreshold
from simulator.api import Simulator
from simulator.cli import main
from simulator.errors import DataError, ParameterError, WorkerError
from simulator.schema.base import (FeaturemapVerifierParameters, InferenceCheckerParameters,
                                   InferenceRunnerParameters, LayerwiseCheckerParameters)
from tests.conftest import GOLDEN, require_golden

N_SAMPLES = 200


# -- a tiny quantized model and a data folder of a few hundred samples -------------------------------

def _model(folder):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "W")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "W2")
    b = numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], "mm"), helper.make_node("Add", ["h", "b"], ["hb"], "add"),
             helper.make_node("Relu", ["hb"], ["r"], "relu"), helper.make_node("MatMul", ["r", "W2"], ["y"], "mm2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w, w2, b])
    path = os.path.join(folder, "model.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    acts = [{"name": n, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "offset": [float(o)],
             "scale": [float(s)]} for n, (s, o) in {"x": (0.03, -128), "h": (0.05, -128), "hb": (0.05, -128),
                                                    "r": (0.03, 0), "y": (0.1, -128)}.items()]
    enc = os.path.join(folder, "model.encodings")
    with open(enc, "w") as f:
        json.dump({"version": "1.0.0", "activation_encodings": acts, "param_encodings": []}, f)
    return path, enc


def _data(folder, n):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        np.save(os.path.join(folder, f"s{i:05d}.npy"), rng.standard_normal((1, 8)).astype(np.float32))
    return folder


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("runner"))
    model, enc = _model(root)
    return {"model": model, "enc": enc, "data": _data(os.path.join(root, "data"), N_SAMPLES), "root": root}


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="the dask extra (distributed) is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _checker(c, cls=InferenceCheckerParameters, **kw):
    return cls(input_model_path_0=c["model"], input_model_path_1=c["model"], input_encodings_path_1=c["enc"],
               input_data_path=c["data"], **kw)


def _same_outputs(a: dict, b: dict):
    assert list(a) == list(b)
    for sample in a:
        assert len(a[sample]) == len(b[sample])
        for x, y in zip(a[sample], b[sample]):
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), sample


def _same_files(d0, d1):
    assert sorted(os.listdir(d0)) == sorted(os.listdir(d1))
    for f in os.listdir(d0):
        with np.load(os.path.join(d0, f)) as z0, np.load(os.path.join(d1, f)) as z1:
            assert z0.files == z1.files
            for k in z0.files:
                assert z0[k].dtype == z1[k].dtype and z0[k].tobytes() == z1[k].tobytes(), (f, k)


# -- bit-identical to the serial run ---------------------------------------------------------------

@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_the_serial_bits(case, workers):
    layer = Simulator.compare_model_by_layer
    serial = layer(_checker(case, LayerwiseCheckerParameters)).to_json()
    par = layer(_checker(case, LayerwiseCheckerParameters, workers=workers, shard_size=16))
    assert par.run_report.workers == workers and par.run_report.shards == -(-N_SAMPLES // 16)
    assert par.to_json() == serial  # every metric of every tensor and sample
    if workers == 2:  # (3 workers: run_inference on the golden case below)
        run = dict(input_model_path=case["model"], input_encodings_path=case["enc"], input_data_path=case["data"],
                   layerwise_check_name=["h", "r::pre_quant"])
        _same_outputs(Simulator.run_inference(InferenceRunnerParameters(**run)),
                      Simulator.run_inference(InferenceRunnerParameters(**run, workers=workers, shard_size=32)))


def test_an_executor_gives_the_serial_bits_for_every_loop(case, tmp_path):
    """compare, verify, calibrate, inspect and `simulator run` on a 2-process pool passed from Python / --workers."""
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        serial = Simulator.compare_model_by_inference(_checker(case, metric="cosine", threshold=0.99))
        par = Simulator.compare_model_by_inference(_checker(case, metric="cosine", threshold=0.99), executor=pool)
        assert par.to_json() == serial.to_json() and par.num_samples == N_SAMPLES

        out0, out1 = str(tmp_path / "o0"), str(tmp_path / "o1")
        base = [case["model"], "-e", case["enc"], "-d", case["data"], "-l", "h", "-l", "r", "-q"]
        assert main(["run", *base, "-o", out0]) == 0
        assert main(["run", *base, "-o", out1, "--workers", "2", "--shard-size", "50"]) == 0
        _same_files(out0, out1)  # the dump verify reads below: <sample>.npz keyed by tensor name

        ver = dict(input_model_path=case["model"], input_encodings_path=case["enc"], featuremap_path=out0,
                   input_data_path=case["data"])
        v0 = Simulator.verify_featuremaps(FeaturemapVerifierParameters(**ver))
        v1 = Simulator.verify_featuremaps(FeaturemapVerifierParameters(**ver), executor=pool)
        assert v1.to_json() == v0.to_json() and v0.num_samples == N_SAMPLES

        c0 = Simulator.calibrate(case["model"], case["data"])
        c1 = Simulator.calibrate(case["model"], case["data"], executor=pool)
        assert c1.write().data == c0.write().data and c1.samples == N_SAMPLES

        i0 = Simulator.inspect_encodings(case["model"], case["enc"], case["data"])
        i1 = Simulator.inspect_encodings(case["model"], case["enc"], case["data"], executor=pool)
        assert json.dumps(i1.to_dict(), default=str) == json.dumps(i0.to_dict(), default=str)


def test_a_dask_cluster_gives_the_serial_bits(case, dask_client, tmp_path):
    layer = Simulator.compare_model_by_layer
    serial = layer(_checker(case, LayerwiseCheckerParameters, metric="rmse", threshold=1.0))
    par = layer(_checker(case, LayerwiseCheckerParameters, metric="rmse", threshold=1.0), executor=dask_client)
    assert par.run_report.workers == 2 and par.to_json() == serial.to_json()
    out0, out1 = str(tmp_path / "o0"), str(tmp_path / "o1")
    base = [case["model"], "-e", case["enc"], "-d", case["data"], "-q"]
    assert main(["run", *base, "-o", out0]) == 0
    assert main(["run", *base, "-o", out1, "--scheduler", dask_client.scheduler.address]) == 0
    _same_files(out0, out1)


def test_a_golden_case_on_workers_and_dask(dask_client, tmp_path):
    require_golden()
    g = os.path.join(GOLDEN, "cnn_residual__w8a8__v1.0.0")
    if not os.path.isdir(g):
        pytest.skip(f"golden case {g} is absent")
    p = dict(input_model_path_0=f"{g}/model.onnx", input_model_path_1=f"{g}/model.onnx",
             input_encodings_path_1=f"{g}/model.encodings", input_data_path=f"{g}/data", shard_size=1)
    serial = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**p)).to_json()
    assert Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**p, workers=2)).to_json() == serial
    assert Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**p), executor=dask_client).to_json() == serial
    run = dict(input_model_path=f"{g}/model.onnx", input_encodings_path=f"{g}/model.encodings",
               input_data_path=f"{g}/data", shard_size=1)
    ref = Simulator.run_inference(InferenceRunnerParameters(**run))
    _same_outputs(ref, Simulator.run_inference(InferenceRunnerParameters(**run, workers=3)))
    _same_outputs(ref, Simulator.run_inference(InferenceRunnerParameters(**run), executor=dask_client))


# -- faults ------------------------------------------------------------------------------------------

def test_a_killed_worker_has_its_shard_run_again(case):
    serial = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters)).to_json()
    killed = []
    before = {p.pid for p in mp.active_children()}  # e.g. the Dask cluster's processes

    def kill_one(sample):
        if not killed:
            victim = next(p for p in mp.active_children() if p.pid not in before)  # a worker of this run
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    res = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters, workers=2, shard_size=8),
                                           progress=kill_one)
    assert killed and res.run_report.retried > 0
    assert res.to_json() == serial  # nothing lost, nothing counted twice


def _interrupt_after(n: int):
    """A progress callback that interrupts the run (as Ctrl-C would) when the n-th sample is merged."""
    seen = []

    def progress(sample):
        seen.append(sample)
        if len(seen) == n:
            raise KeyboardInterrupt
    return progress


def test_an_interrupted_run_resumes_with_the_serial_result(case, tmp_path):
    serial = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters)).to_json()
    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters, checkpoint_path=ckpt),
                                         progress=_interrupt_after(100))
    res = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters, checkpoint_path=ckpt,
                                                    resume=True, workers=2))
    # the shards saved before the interruption: 6 merged, and the 7th (samples 96-111) finished meanwhile
    assert res.run_report.resumed == 7 and res.to_json() == serial

    with pytest.raises(ParameterError, match="another run"):  # other options: the shards are not this run's
        Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters, checkpoint_path=ckpt,
                                                  resume=True, metric="mse"))


def test_simulator_run_resumes_in_its_output_folder(case, tmp_path, capsys):
    out0, out1 = str(tmp_path / "o0"), str(tmp_path / "o1")
    base = [case["model"], "-e", case["enc"], "-d", case["data"], "-q"]
    assert main(["run", *base, "-o", out0]) == 0
    whole = capsys.readouterr().out.split("\n")[1:-2]  # the summary over every sample
    from simulator.inference import run_to_files

    params = InferenceRunnerParameters(input_model_path=case["model"], input_encodings_path=case["enc"],
                                       input_data_path=case["data"])
    with pytest.raises(KeyboardInterrupt):
        run_to_files(params, out1, _interrupt_after(64))
    assert 64 <= len(os.listdir(out1)) < N_SAMPLES  # complete files only: the writes are atomic
    assert main(["run", *base, "-o", out1, "--resume", "--workers", "2"]) == 0
    assert capsys.readouterr().out.split("\n")[1:-2] == whole and len(whole) == 2
    _same_files(out0, out1)


def test_an_error_in_one_sample_stops_the_run_naming_the_file(case, tmp_path):
    data = _data(str(tmp_path / "data"), 40)
    bad = os.path.join(data, "s00033.npy")
    with open(bad, "wb") as f:
        f.write(b"not an npy file")
    for workers in (1, 2):
        with pytest.raises(DataError, match="s00033.npy"):
            Simulator.compare_model_by_inference(InferenceCheckerParameters(
                input_model_path_0=case["model"], input_model_path_1=case["model"], input_encodings_path_1=case["enc"],
                input_data_path=data, workers=workers))


# -- data-set thresholds, streaming, memory ---------------------------------------------------------------

def test_pooled_and_mean_thresholds_and_rethresholding_a_saved_report(case, tmp_path):
    small = dict(case, data=_data(str(tmp_path / "d"), 24))
    res = Simulator.compare_model_by_layer(_checker(small, LayerwiseCheckerParameters, threshold=20.0))
    saved = json.loads(res.to_json())
    for scope in ("sample", "pooled", "mean"):
        for t in (10.0, 25.0, 40.0):
            fresh = Simulator.compare_model_by_layer(_checker(small, LayerwiseCheckerParameters, threshold=t,
                                                              threshold_scope=scope))
            again = rethreshold(saved, t, scope)
            assert again["passed"] == fresh.passed, (scope, t)
            assert [x["passed"] for x in again["layers"]] == [r.passed for r in fresh.layers], (scope, t)
    inf = Simulator.compare_model_by_inference(_checker(case, threshold_scope="pooled"))
    d = inf.to_dict()
    assert d["threshold_scope"] == "pooled" and d["overall"]["y"] == inf.overall["y"]
    worst = d["dataset"]["y"]["worst_samples"]
    assert worst[0]["value"] == inf.worst["y"] and inf[worst[0]["sample"]][1]["y"] == inf.worst["y"]
    assert d["dataset"]["y"]["mean_of_samples"] == pytest.approx(inf.mean["y"], rel=1e-12)


def test_rows_streamed_to_json_lines_and_not_kept(case, tmp_path):
    rows = str(tmp_path / "rows.jsonl")
    kept = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters))
    streamed = Simulator.compare_model_by_layer(_checker(case, LayerwiseCheckerParameters, samples_path=rows,
                                                         keep_samples=False))
    assert len(streamed) == 0 and streamed.num_samples == N_SAMPLES
    with open(rows) as f:
        lines = [json.loads(line) for line in f]
    assert [r["sample"] for r in lines] == list(kept)
    assert all(r["values"] == kept[r["sample"]][1] for r in lines)
    for a, b in zip(kept.layers, streamed.layers):
        assert (a.worst, a.overall, a.passed, a.isolated_worst) == (b.worst, b.overall, b.passed, b.isolated_worst)
        assert b.mean == pytest.approx(a.mean, rel=1e-12)
    assert streamed.failed_samples == kept.failed_samples and streamed.verdict == kept.verdict


def _peak(case, data, tmp_path):
    params = InferenceCheckerParameters(input_model_path_0=case["model"], input_model_path_1=case["model"],
                                        input_encodings_path_1=case["enc"], input_data_path=data,
                                        samples_path=str(tmp_path / "rows.jsonl"), keep_samples=False)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        res = Simulator.compare_model_by_inference(params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.num_samples == len(os.listdir(data))
    return peak


def test_memory_stays_flat_from_100_to_1000_samples(case, tmp_path):
    small = _data(str(tmp_path / "d100"), 100)
    large = _data(str(tmp_path / "d1000"), 1000)
    _peak(case, small, tmp_path)  # warm up: imports, caches
    p100, p1000 = _peak(case, small, tmp_path), _peak(case, large, tmp_path)
    # the folder's index (one name and path per sample) is all that grows: ~0.5 KB per sample
    assert p1000 < p100 + 900 * 1024, (p100, p1000)


def test_cli_rethreshold_and_runner_options(case, tmp_path, capsys):
    small = _data(str(tmp_path / "d"), 20)
    report = str(tmp_path / "r.json")
    rows = str(tmp_path / "rows.jsonl")
    args = ["compare", case["model"], case["model"], "-e1", case["enc"], "-d", small, "-q", "-t", "200"]
    assert main([*args, "--json", report, "--samples-jsonl", rows, "--checkpoint-dir", str(tmp_path / "ck")]) == 1
    saved = json.load(open(report))
    assert saved["num_samples"] == 20 and saved["samples"] == {} and len(open(rows).readlines()) == 20
    worst, pooled = saved["worst"]["y"], saved["overall"]["y"]
    assert worst < pooled
    assert main(["rethreshold", report, "-t", str(worst - 1)]) == 0
    assert main(["rethreshold", report, "-t", str((worst + pooled) / 2)]) == 1
    assert main(["rethreshold", report, "-t", str((worst + pooled) / 2), "--threshold-scope", "pooled", "--json", report]) == 0
    assert json.load(open(report))["threshold_scope"] == "pooled"
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2  # resume needs a checkpoint folder
    assert "checkpoint" in capsys.readouterr().err
    assert main(["rethreshold", str(tmp_path / "missing.json"), "-t", "1"]) == 2


def test_a_broken_executor_is_named(case):
    ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(1, mp_context=ctx)
    try:
        os.kill(pool.submit(os.getpid).result(), signal.SIGKILL)  # the pool's only worker
        with pytest.raises(cf.process.BrokenProcessPool):
            pool.submit(os.getpid).result()
        with pytest.raises(WorkerError, match="new one"):
            Simulator.compare_model_by_inference(_checker(case), executor=pool)
    finally:
        pool.shutdown(wait=False)


# -- a script that spawns workers without a __main__ guard -------------------------------------------

@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_a_main_guard_is_told_so_before_workers_start(case, tmp_path, guarded):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    body = (f"from simulator.api import Simulator\nfrom simulator.schema.base import InferenceCheckerParameters\n"
            f"from simulator.errors import SimulatorError\n"
            f"p = InferenceCheckerParameters(input_model_path_0={case['model']!r}, input_model_path_1={case['model']!r},"
            f" input_encodings_path_1={case['enc']!r}, input_data_path={case['data']!r}, workers=2, shard_size=32)\n")
    call = "try:\n    print('passed', Simulator.compare_model_by_inference(p).passed)\nexcept SimulatorError as e:\n    print(e)\n"
    script = tmp_path / "user_script.py"
    script.write_text(body + ("if __name__ == '__main__':\n" + "".join("    " + line + "\n" for line in
                                                                       call.splitlines()) if guarded else call))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=root))
    if guarded:
        assert out.stdout.strip() in ("passed True", "passed False"), out.stderr[-2000:]  # the run completed
    else:
        assert "re-import the script" in out.stdout and "if __name__ == \"__main__\":" in out.stdout, out.stdout
