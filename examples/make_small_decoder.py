"""Build a small decoder split into parts, with a prompt and a token graph per part and AIMET encodings.

    python examples/make_small_decoder.py OUT [--layout fixed|growing|gqa] [--layers 2]

writes OUT/prompt/layer_NN.onnx + .encodings and OUT/token/layer_NN.onnx + .encodings: layer_00 is the
embedding, layer_01..layer_L the decoder blocks, the last part the final RMSNorm and LM head. Parts are
chained by tensor name with the `_updated` convention (a block's output `/model/layers.0/Add_1_output_0_updated`
is the next part's input `/model/layers.0/Add_1_output_0`). KV-cache layouts:
- fixed (AI Hub style): `past_key_{i}_in` (keys transposed, B x heads x head_size x MAX) and `past_value_{i}_in`
  of the maximum context length; each step outputs only its new entries (`past_key_{i}_out`), which the
  generator writes into the cache by position; `attention_mask` int32 [1, MAX + S];
- growing (Hugging Face style): `past_key_values.{i}.key/value` -> `present.{i}.key/value` = past + new;
- gqa (ONNX Runtime GenAI style): com.microsoft GroupQueryAttention with rotary inside, a cache of the maximum
  length returned whole, `seqlens_k` / `total_sequence_length` inputs.
Encodings: 8-bit per-channel weights, 16-bit activations, min-max calibrated with the simulator itself on the
float pipeline's own generation (deterministic: fixed seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulator.generation import Generator  # noqa: E402
from simulator.pipeline import Pipeline  # noqa: E402
from simulator.tools.calibrate import CalibrationConfig, calibrate  # noqa: E402

VOCAB, D, HEADS, HEAD, FF, MAX, PROMPT = 64, 32, 2, 16, 64, 32, 8
MS = "com.microsoft"
FLOAT, INT64, INT32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32


def hidden_name(i: int) -> str:
    return "/model/embed_tokens/Gather_output_0" if i == 0 else f"/model/layers.{i - 1}/Add_1_output_0"


def _model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "part", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def _w(rng, name, *shape, scale=None):
    scale = scale if scale is not None else 1.0 / np.sqrt(shape[0])
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def embedding(rng, s, layout):
    """input_ids (and position_ids) -> hidden."""
    out = hidden_name(0) + "_updated"
    inputs = [helper.make_tensor_value_info("input_ids", INT64, [1, s])]
    inits = [_w(rng, "embed_tokens.weight", VOCAB, D, scale=1.0)]
    if layout == "gqa":  # rotary inside the attention: no position embedding
        nodes = [helper.make_node("Gather", ["embed_tokens.weight", "input_ids"], [out], name="embed")]
    else:
        inputs.append(helper.make_tensor_value_info("position_ids", INT64, [1, s]))
        inits.append(_w(rng, "embed_positions.weight", MAX + PROMPT, D, scale=0.5))
        nodes = [helper.make_node("Gather", ["embed_tokens.weight", "input_ids"], ["tok"], name="embed"),
                 helper.make_node("Gather", ["embed_positions.weight", "position_ids"], ["pos"], name="embed_pos"),
                 helper.make_node("Add", ["tok", "pos"], [out], name="embed_add")]
    return _model(nodes, inputs, [helper.make_tensor_value_info(out, FLOAT, [1, s, D])], inits)


def block(rng, i, s, layout):
    """One pre-norm decoder block: RMSNorm, attention with a KV cache, RMSNorm, FastGelu MLP."""
    p = f"model.layers.{i}"
    x, out = hidden_name(i), hidden_name(i + 1) + "_updated"
    kv_heads = 1 if layout == "gqa" else HEADS
    inits = [numpy_helper.from_array(np.ones(D, np.float32) + rng.standard_normal(D).astype(np.float32) * 0.1,
                                     f"{p}.input_layernorm.weight"),
             numpy_helper.from_array(np.ones(D, np.float32), f"{p}.post_attention_layernorm.weight"),
             _w(rng, f"{p}.q_proj.weight", D, HEADS * HEAD), _w(rng, f"{p}.k_proj.weight", D, kv_heads * HEAD),
             _w(rng, f"{p}.v_proj.weight", D, kv_heads * HEAD), _w(rng, f"{p}.o_proj.weight", HEADS * HEAD, D),
             _w(rng, f"{p}.up_proj.weight", D, FF), _w(rng, f"{p}.down_proj.weight", FF, D)]
    n = f"/model/layers.{i}"
    nodes = [helper.make_node("SimplifiedLayerNormalization", [x, f"{p}.input_layernorm.weight"], [f"{n}/ln1"],
                              name=f"{n}/input_layernorm", epsilon=1e-5),
             helper.make_node("MatMul", [f"{n}/ln1", f"{p}.q_proj.weight"], [f"{n}/q"], name=f"{n}/q_proj"),
             helper.make_node("MatMul", [f"{n}/ln1", f"{p}.k_proj.weight"], [f"{n}/k"], name=f"{n}/k_proj"),
             helper.make_node("MatMul", [f"{n}/ln1", f"{p}.v_proj.weight"], [f"{n}/v"], name=f"{n}/v_proj")]
    inputs = [helper.make_tensor_value_info(x, FLOAT, [1, s, D])]
    outputs = []
    attn = f"{n}/attn"
    if layout == "gqa":
        pk, pv, ok, ov = f"past_key_values.{i}.key", f"past_key_values.{i}.value", f"present.{i}.key", f"present.{i}.value"
        angles = np.arange(MAX)[:, None] / (10000.0 ** (np.arange(HEAD // 2) / (HEAD // 2)))
        inits += [numpy_helper.from_array(np.cos(angles).astype(np.float32), "cos_cache"),
                  numpy_helper.from_array(np.sin(angles).astype(np.float32), "sin_cache")]
        inputs += [helper.make_tensor_value_info(pk, FLOAT, [1, kv_heads, MAX, HEAD]),
                   helper.make_tensor_value_info(pv, FLOAT, [1, kv_heads, MAX, HEAD]),
                   helper.make_tensor_value_info("seqlens_k", INT32, [1]),
                   helper.make_tensor_value_info("total_sequence_length", INT32, [])]
        nodes.append(helper.make_node("GroupQueryAttention", [f"{n}/q", f"{n}/k", f"{n}/v", pk, pv, "seqlens_k",
                                                              "total_sequence_length", "cos_cache", "sin_cache"],
                                      [attn, ok, ov], name=f"{n}/attention", domain=MS, num_heads=HEADS,
                                      kv_num_heads=kv_heads, do_rotary=1))
        outputs += [helper.make_tensor_value_info(ok, FLOAT, [1, kv_heads, MAX, HEAD]),
                    helper.make_tensor_value_info(ov, FLOAT, [1, kv_heads, MAX, HEAD])]
    else:
        inputs.append(helper.make_tensor_value_info("attention_mask", INT32, [1, "total"] if layout == "growing"
                                                    else [1, MAX + s]))
        if layout == "growing":
            pk, pv, ok, ov = f"past_key_values.{i}.key", f"past_key_values.{i}.value", f"present.{i}.key", f"present.{i}.value"
            inputs += [helper.make_tensor_value_info(pk, FLOAT, [1, HEADS, "past", HEAD]),
                       helper.make_tensor_value_info(pv, FLOAT, [1, HEADS, "past", HEAD])]
            nodes.append(helper.make_node("MultiHeadAttention", [f"{n}/q", f"{n}/k", f"{n}/v", "", "attention_mask",
                                                                 "", pk, pv], [attn, ok, ov], name=f"{n}/attention",
                                          domain=MS, num_heads=HEADS, unidirectional=1))
            outputs += [helper.make_tensor_value_info(ok, FLOAT, [1, HEADS, "total", HEAD]),
                        helper.make_tensor_value_info(ov, FLOAT, [1, HEADS, "total", HEAD])]
        else:  # fixed: keys transposed in the cache; only the new entries come out
            pk, pv, ok, ov = f"past_key_{i}_in", f"past_value_{i}_in", f"past_key_{i}_out", f"past_value_{i}_out"
            inputs += [helper.make_tensor_value_info(pk, FLOAT, [1, HEADS, HEAD, MAX]),
                       helper.make_tensor_value_info(pv, FLOAT, [1, HEADS, MAX, HEAD])]
            nodes += [helper.make_node("Transpose", [pk], [f"{n}/past_k"], perm=[0, 1, 3, 2], name=f"{n}/past_k_t"),
                      helper.make_node("Reshape", [f"{n}/k", "heads_shape"], [f"{n}/k4"], name=f"{n}/k_heads"),
                      helper.make_node("Transpose", [f"{n}/k4"], [ok], perm=[0, 2, 3, 1], name=f"{n}/k_out"),
                      helper.make_node("Reshape", [f"{n}/v", "heads_shape"], [f"{n}/v4"], name=f"{n}/v_heads"),
                      helper.make_node("Transpose", [f"{n}/v4"], [ov], perm=[0, 2, 1, 3], name=f"{n}/v_out"),
                      helper.make_node("MultiHeadAttention", [f"{n}/q", f"{n}/k", f"{n}/v", "", "attention_mask", "",
                                                              f"{n}/past_k", pv],
                                       [attn, f"{n}/present_k", f"{n}/present_v"], name=f"{n}/attention",
                                       domain=MS, num_heads=HEADS, unidirectional=1)]
            inits.append(numpy_helper.from_array(np.array([1, s, HEADS, HEAD], np.int64), "heads_shape"))
            outputs += [helper.make_tensor_value_info(ok, FLOAT, [1, HEADS, HEAD, s]),
                        helper.make_tensor_value_info(ov, FLOAT, [1, HEADS, s, HEAD])]
    nodes += [helper.make_node("MatMul", [attn, f"{p}.o_proj.weight"], [f"{n}/o"], name=f"{n}/o_proj"),
              helper.make_node("Add", [x, f"{n}/o"], [f"{n}/Add_output_0"], name=f"{n}/Add"),
              helper.make_node("SimplifiedLayerNormalization", [f"{n}/Add_output_0", f"{p}.post_attention_layernorm.weight"],
                               [f"{n}/ln2"], name=f"{n}/post_attention_layernorm", epsilon=1e-5),
              helper.make_node("MatMul", [f"{n}/ln2", f"{p}.up_proj.weight"], [f"{n}/up"], name=f"{n}/up_proj"),
              helper.make_node("FastGelu", [f"{n}/up"], [f"{n}/act"], name=f"{n}/act", domain=MS),
              helper.make_node("MatMul", [f"{n}/act", f"{p}.down_proj.weight"], [f"{n}/down"], name=f"{n}/down_proj"),
              helper.make_node("Add", [f"{n}/Add_output_0", f"{n}/down"], [out], name=f"{n}/Add_1")]
    outputs.insert(0, helper.make_tensor_value_info(out, FLOAT, [1, s, D]))
    return _model(nodes, inputs, outputs, inits)


def head(rng, layers, s):
    x = hidden_name(layers)
    inits = [numpy_helper.from_array(np.ones(D, np.float32), "model.norm.weight"),
             _w(rng, "lm_head.weight", D, VOCAB, scale=1.0)]
    nodes = [helper.make_node("SimplifiedLayerNormalization", [x, "model.norm.weight"], ["/model/norm/out"],
                              name="/model/norm", epsilon=1e-5),
             helper.make_node("MatMul", ["/model/norm/out", "lm_head.weight"], ["logits"], name="/lm_head")]
    return _model(nodes, [helper.make_tensor_value_info(x, FLOAT, [1, s, D])],
                  [helper.make_tensor_value_info("logits", FLOAT, [1, s, VOCAB])], inits)


def write_parts(folder, layout, layers, s, seed):
    rng = np.random.default_rng(seed)  # the same seed for both graphs: they share their weights
    os.makedirs(folder, exist_ok=True)
    parts = [embedding(rng, s, layout)] + [block(rng, i, s, layout) for i in range(layers)] + [head(rng, layers, s)]
    for i, model in enumerate(parts):
        onnx.save(model, os.path.join(folder, f"layer_{i:02d}.onnx"))


def _write_samples(folder, feeds):
    """A data folder (input_folder_mapping.json + one sub-folder per input) of the recorded feeds."""
    mapping = {}
    for k, name in enumerate(feeds[0]):
        sub = f"input_{k}"
        mapping[name] = sub
        os.makedirs(os.path.join(folder, sub))
        for j, feed in enumerate(feeds):
            np.save(os.path.join(folder, sub, f"sample_{j:03d}.npy"), feed[name])
    with open(os.path.join(folder, "input_folder_mapping.json"), "w") as f:
        json.dump(mapping, f)


def calibrate_parts(out, prompts, new_tokens):
    """Run the float pipeline's generation on `prompts`, record every part's feeds, calibrate each part."""
    prompt_pipe = Pipeline.load(os.path.join(out, "prompt"), quantized=False)
    token_pipe = Pipeline.load(os.path.join(out, "token"), quantized=False)
    prompt_pipe.record, token_pipe.record = [], []
    for prompt in prompts:
        Generator(prompt_pipe, token_pipe).generate(prompt, new_tokens)
    config = CalibrationConfig(param_bitwidth=8, activation_bitwidth=16, per_channel=True)
    for graph, pipe in (("prompt", prompt_pipe), ("token", token_pipe)):
        for i, part in enumerate(pipe.parts):
            feeds = [feed for j, feed in pipe.record if j == i]
            with tempfile.TemporaryDirectory() as tmp:
                data = os.path.join(tmp, "data")
                _write_samples(data, feeds)
                model = onnx.load(part.model_path)
                calibrate(model, data, config, source=part.model_path).write(
                    "1.0.0", model, os.path.splitext(part.model_path)[0] + ".encodings")


def make(out, layout="fixed", layers=2, seed=0):
    if layout not in ("fixed", "growing", "gqa"):
        raise ValueError(f"layout must be fixed, growing or gqa, not {layout!r}")
    if os.path.exists(out):
        shutil.rmtree(out)
    write_parts(os.path.join(out, "prompt"), layout, layers, "sequence" if layout == "gqa" else PROMPT, seed)
    write_parts(os.path.join(out, "token"), layout, layers, 1, seed)
    rng = np.random.default_rng(seed + 1)
    prompts = [rng.integers(1, VOCAB, n).tolist() for n in (PROMPT, PROMPT - 3, PROMPT)]
    calibrate_parts(out, prompts, new_tokens=6)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="the folder to write (replaced)")
    p.add_argument("--layout", choices=("fixed", "growing", "gqa"), default="fixed")
    p.add_argument("--layers", type=int, default=2)
    args = p.parse_args(argv)
    make(args.out, args.layout, args.layers)
    print(f"wrote {args.out}/prompt and {args.out}/token ({args.layers} blocks, {args.layout} KV cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
