"""Generation over prompt and token graphs with a KV cache: the three cache layouts against ONNX Runtime running
the same parts through the same driver, float against quantized per token, stop rules, and AIMET's KV-cache
decoder chained prefill -> decode."""
import glob
import json
import os

import numpy as np
import pytest

from simulator.cli import main
from simulator.errors import DataError, ParameterError
from simulator.generation import Generator, compare_generation, kl_divergence
from simulator.metrics import snr
from simulator.pipeline import Pipeline
from tests.test_pipeline import _maker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIMET = os.path.join(ROOT, "..", "shared", "conformance", "aimet_deep")
PROMPT = [5, 17, 33, 2, 9]


@pytest.fixture(scope="module", params=["fixed", "growing", "gqa"])
def decoder(request, tmp_path_factory):
    return _maker().make(str(tmp_path_factory.mktemp("dec") / request.param), request.param)


def _gen(folder, quantized):
    return Generator(Pipeline.load(os.path.join(folder, "prompt"), quantized=quantized),
                     Pipeline.load(os.path.join(folder, "token"), quantized=quantized))


def _ort_gen(folder):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL

    def pipe(graph):
        return Pipeline([ort.InferenceSession(f, so, providers=["CPUExecutionProvider"])
                         for f in sorted(glob.glob(os.path.join(folder, graph, "layer_*.onnx")))])
    return Generator(pipe("prompt"), pipe("token"))


def test_float_generation_matches_onnxruntime(decoder):
    ours = _gen(decoder, quantized=False).generate(PROMPT, 8)
    ref = _ort_gen(decoder).generate(PROMPT, 8)
    assert ours.tokens == ref.tokens and len(ours.tokens) == 8
    assert min(snr(r, o) for r, o in zip(ref.logits, ours.logits)) > 100  # ulps apart (BLAS vs MLAS)


def test_cache_layouts_agree(tmp_path):
    # fixed (AI Hub style, keys transposed, new entries written by position) and growing (past + new) share weights.
    maker = _maker()
    fixed = _gen(maker.make(str(tmp_path / "f"), "fixed"), False).generate(PROMPT, 8)
    growing = _gen(maker.make(str(tmp_path / "g"), "growing"), False).generate(PROMPT, 8)
    assert fixed.tokens == growing.tokens
    assert min(snr(a, b) for a, b in zip(fixed.logits, growing.logits)) > 100


def test_quantized_against_float_per_token(decoder):
    result = compare_generation(_gen(decoder, False), _gen(decoder, True), PROMPT, 6)
    assert len(result.steps) == 6
    assert [s.token_0 for s in result.steps] == result.result_0.tokens
    assert result.result_1.tokens == result.result_0.tokens  # model 1 follows model 0's tokens
    for step in result.steps:
        assert 10 < step.snr_db < 80  # quantized: close, not equal
        assert step.kl >= 0
        assert step.top1_agree == (step.token_0 == step.token_1)
    first = result.first_divergence
    assert first is None or not result.steps[first].top1_agree
    data = json.loads(json.dumps(result.to_dict()))
    assert data["tokens_0"] == result.result_0.tokens and len(data["steps"]) == 6


def test_stop_token_and_length(decoder):
    gen = _gen(decoder, False)
    full = gen.generate(PROMPT, 6)
    stop = full.tokens[2]
    stopped = gen.generate(PROMPT, 6, stop_token=stop)
    assert stopped.tokens == full.tokens[:full.tokens.index(stop) + 1] and stopped.stopped_by == "stop_token"
    assert full.stopped_by == "length"
    with pytest.raises(ParameterError, match="max_new_tokens"):
        gen.generate(PROMPT, 0)
    with pytest.raises(ParameterError, match="at least one token"):
        gen.generate([], 2)


def test_errors_name_the_input(tmp_path):
    folder = _maker().make(str(tmp_path / "f"), "fixed")
    gen = _gen(folder, False)
    with pytest.raises(ParameterError, match="takes 8"):
        gen.generate(list(range(1, 12)), 2)
    assert len(gen.generate(PROMPT, 25).tokens) == 25  # 8 prompt slots + 24 token steps fill the 32-slot cache
    with pytest.raises(DataError, match="context is full"):
        gen.generate(PROMPT, 26)


def test_other_inputs_come_from_extra_feed(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    emb = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32), "emb")
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
             helper.make_node("Mul", ["e", "lora_scale"], ["logits"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "s"]),
                                           helper.make_tensor_value_info("lora_scale", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "s", 16])], [emb])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    pipe = Pipeline.load(path)
    with pytest.raises(DataError, match="lora_scale"):
        Generator(pipe).generate([3], 2)
    seen = []

    def extra(step):
        seen.append((step["position"], step["length"]))
        return {"lora_scale": np.array([2.0], np.float32)}
    result = Generator(pipe, extra_feed=extra).generate([3], 3)
    # no KV cache: each step feeds the whole sequence again
    assert seen == [(0, 1), (0, 2), (0, 3)] and len(result.tokens) == 3
    np.testing.assert_array_equal(result.logits[1], numpy_helper.to_array(emb)[result.tokens[0]] * np.float32(2))


def test_kl_divergence():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence(a, a[::-1].copy()) > 0.5


def test_cli_generate_and_compare(tmp_path, capsys):
    folder = _maker().make(str(tmp_path / "f"), "fixed")
    args = ["--prompt-model", os.path.join(folder, "prompt"), "--token-model", os.path.join(folder, "token"),
            "--prompt", "5,17,33", "-n", "4", "-q"]
    assert main(["generate", *args, "--float", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "float" and len(out["tokens"]) == 4
    assert out["tokens"] == _gen(folder, False).generate([5, 17, 33], 4).tokens
    report = tmp_path / "cmp.json"
    assert main(["compare-generation", *args, "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "top-1 agreement" in printed
    data = json.loads(report.read_text())
    assert len(data["steps"]) == 4 and data["passed"]
    assert main(["compare-generation", *args, "--threshold", "200"]) == 1
    assert main(["generate", "--prompt-model", str(tmp_path / "missing"), "--prompt", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["generate", *args[:4], "--prompt", "1,x"]) == 2


def _aimet(case):
    path = os.path.join(AIMET, case)
    if not os.path.isdir(path):
        pytest.skip(f"golden case {case} is absent (../shared/conformance/aimet_deep)")
    return path


@pytest.mark.parametrize("deterministic", [False, True])
def test_aimet_kv_decoder_prefill_then_decode(deterministic):
    from simulator.session import InferenceSession

    pre_dir = _aimet("kv_decoder_prefill__w8a16_htp__v1.0.0")
    dec_dir = _aimet("kv_decoder_decode__w8a16_htp__v1.0.0")
    pre = InferenceSession(os.path.join(pre_dir, "model.onnx"), os.path.join(pre_dir, "model.encodings"),
                           deterministic=deterministic)
    dec = InferenceSession(os.path.join(dec_dir, "model.onnx"), os.path.join(dec_dir, "model.encodings"),
                           deterministic=deterministic)
    gen = Generator(pre, dec)
    identical = []
    for i in range(3):
        ids = np.load(os.path.join(pre_dir, "data", "input_ids", f"sample_{i:03d}.npy"))
        mask = np.load(os.path.join(pre_dir, "data", "attention_mask", f"sample_{i:03d}.npy"))
        result = gen.generate(ids[0][mask[0] == 1].tolist(), 2)  # left padding rebuilt by the driver
        expect_pre = np.load(os.path.join(pre_dir, "expected", f"sample_{i:03d}.quant.npz"))["logits"][0, -1]
        expect_dec = np.load(os.path.join(dec_dir, "expected", f"sample_{i:03d}.quant.npz"))["logits"][0, -1]
        # The decode step's token is the argmax of AIMET's prefill (the case's stored decode input).
        assert result.tokens[0] == int(np.load(os.path.join(dec_dir, "data", "input_ids", f"sample_{i:03d}.npy"))[0, 0])
        assert snr(expect_pre, result.logits[0]) > 75 and snr(expect_dec, result.logits[1]) > 75
        identical += [np.mean(expect_pre == result.logits[0]), np.mean(expect_dec == result.logits[1])]
    # Measured (prefill, decode per sample): numpy mode 50-100% of the logits identical to AIMET's
    # (0.50 0.59 / 1.0 1.0 / 0.70 0.73), deterministic mode 52-84%; SNR >= 79 dB everywhere.
    print(f"identical share of the logits (deterministic={deterministic}): {np.round(identical, 3).tolist()}")
    assert min(identical) >= 0.4


def test_first_diverging_step_is_located_layer_by_layer(tmp_path):
    folder = _maker().make(str(tmp_path / "f"), "fixed")
    prompt = [60, 40, 44, 57, 37]  # the quantized model's top-1 parts from the float one at step 1
    result = compare_generation(_gen(folder, False), _gen(folder, True), prompt, 4)
    assert result.first_divergence == 1
    layers = result.layers
    assert layers is not None and {d.part for d in layers.layers} == {0, 1, 2, 3}
    names = [d.name for d in layers.layers]
    assert "logits" in names and "/model/layers.1/Add_1_output_0_updated" in names
    logits = layers.layers[names.index("logits")]
    assert logits.cumulative_snr == pytest.approx(result.steps[1].snr_db, abs=1e-6)  # the same step, re-run
    first = layers.first_isolated(30.0)
    assert first is not None and first.isolated_snr < 30.0
    assert all(d.isolated_snr is None or d.isolated_snr >= 30.0
               for d in layers.layers[:layers.layers.index(first)])
    assert "first layer below 30 dB (isolated)" in result.format_table()
    json.dumps(result.to_dict())  # inf/nan written as strings: valid JSON
