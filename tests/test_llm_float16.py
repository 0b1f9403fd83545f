"""A float16 LLM (weights, activations, KV cache float16): pipeline and generation against ONNX Runtime running
the same float16 parts through the same driver, in the three cache layouts, and its quantized run against the float32 model's."""
import glob
import os
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from simulator.generation import Generator
from simulator.metrics import snr
from simulator.pipeline import Pipeline
from tests.test_generation import PROMPT, _gen, _ort_gen
from tests.test_pipeline import _maker


def _to_float16(src, dst):
    """Every float32 initializer, graph input and output of the parts as float16 (encodings copied)."""
    for graph in ("prompt", "token"):
        os.makedirs(os.path.join(dst, graph))
        for path in sorted(glob.glob(os.path.join(src, graph, "layer_*"))):
            out = os.path.join(dst, graph, os.path.basename(path))
            if not path.endswith(".onnx"):
                shutil.copy(path, out)
                continue
            model = onnx.load(path)
            g = model.graph
            for t in g.initializer:
                if t.data_type == TensorProto.FLOAT:
                    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
            for vi in (*g.input, *g.output):
                if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
                    vi.type.tensor_type.elem_type = TensorProto.FLOAT16
            del g.value_info[:]
            onnx.save(model, out)
    return dst


FLOAT32 = {}  # layout -> the float32 decoder the float16 one was made from


@pytest.fixture(scope="module", params=["fixed", "growing", "gqa"])
def decoder16(request, tmp_path_factory):
    folder = _maker().make(str(tmp_path_factory.mktemp("dec") / request.param), request.param)
    FLOAT32[request.param] = folder
    return _to_float16(folder, str(tmp_path_factory.mktemp("dec16") / request.param))


def test_float16_generation_matches_onnxruntime(decoder16):
    pipe = Pipeline.load(os.path.join(decoder16, "token"))
    assert {a.type for a in pipe.get_inputs() if "past" in a.name} == {"tensor(float16)"}
    ours = _gen(decoder16, quantized=False).generate(PROMPT, 8)
    ref = _ort_gen(decoder16).generate(PROMPT, 8)
    assert len(ours.tokens) == len(ref.tokens) == 8
    # ONNX Runtime's CPU provider runs the float16 nodes it has no float16 kernel for (MatMul, attention,
    # FastGelu...) in float32 (its InsertCastTransformer) and keeps float32 between them; the simulator rounds
    # each node's output to float16, as a float16 device does. So the logits are float16 rounding apart (about
    # 60 dB) and a token may differ only where ONNX Runtime's own top two logits are a near tie.
    same = next((i for i, (a, b) in enumerate(zip(ours.tokens, ref.tokens)) if a != b), len(ref.tokens))
    for step in range(min(same + 1, len(ref.tokens))):
        assert snr(ref.logits[step], ours.logits[step]) > 55, step
    if same < len(ref.tokens):
        top2 = np.sort(np.asarray(ref.logits[same], np.float32).ravel())[-2:]
        assert top2[1] - top2[0] <= 2 * float(np.spacing(np.float16(abs(top2[1])))), (same, top2)


def test_float16_pipeline_keeps_float16(decoder16):
    pipe = Pipeline.load(os.path.join(decoder16, "token"))
    token = Generator(Pipeline.load(os.path.join(decoder16, "prompt")), pipe)
    seen = {}
    run = pipe.run

    def spy(names, feeds, *args, **kwargs):  # what the driver feeds and gets back, as ONNX Runtime would
        out = run(names, feeds, *args, **kwargs)
        seen.update({n: v.dtype for n, v in zip(names or [o.name for o in pipe.get_outputs()], out)})
        seen.update({"in:" + n: v.dtype for n, v in feeds.items()})
        return out

    pipe.run = spy
    assert len(token.generate(PROMPT, 3).tokens) == 3
    floats = {n: d for n, d in seen.items() if d.kind == "f"}
    assert floats and set(floats.values()) == {np.dtype(np.float16)}, floats


def test_float16_quantized_generation_follows_float32(decoder16):
    # The same encodings on the float16 model: each quantized value is a grid point stored in float16, so the
    # quantized float16 run tracks the quantized float32 one far more closely than quantization noise.
    ref = _gen(FLOAT32[os.path.basename(decoder16)], quantized=True).generate(PROMPT, 6)
    ours = _gen(decoder16, quantized=True).generate(PROMPT, 6)
    float16 = _gen(decoder16, quantized=False).generate(PROMPT, 6)
    assert len(ours.tokens) == 6 and ours.tokens[0] == ref.tokens[0]
    assert snr(ref.logits[0], ours.logits[0]) > snr(float16.logits[0], ours.logits[0]) + 10
