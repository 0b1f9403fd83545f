"""A synthetic decoder of about a billion parameters: load time, peak memory and time per token against ONNX Runtime.

    python benchmarks/llm_1b.py [--layers 16] [--hidden 2048] [--ff 5632] [--vocab 32000] [--tokens 4]
                                [--dtype float32|float16] [--keep DIR]

The script writes one token-step graph (random weights, deterministic seed) with its weights in external
data, written tensor by tensor so that the writer never holds them all: Gather embedding, per layer
SimplifiedLayerNormalization -> q/k/v MatMuls -> com.microsoft MultiHeadAttention (causal, past_key/value in,
present out) -> o MatMul -> Add, SimplifiedLayerNormalization -> gate/up MatMuls, SiLU (Sigmoid, Mul) ->
down MatMul -> Add; final norm and LM head. The defaults are 0.98 billion parameters (a Llama-1B shape).
Encodings for the w4a16 mode: 4-bit symmetric per-channel MatMul weights (max |w| / 7), 16-bit activations
(a fixed [-64, 64] range: this measures cost, not accuracy).

Each engine (ONNX Runtime, simulator float, simulator w4a16) runs in a fresh process, one after the other
(a gigabyte-sized model is not interleaved: each process loads it once): it loads the model, feeds a cache
of one position, runs --tokens + 1 single-token steps and reports its load time, the fastest and the mean
step after the first, and its peak resident memory (VmHWM) as a multiple of the weight bytes.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MS = "com.microsoft"
ACT_RANGE = 64.0


def _names(layers):
    per_layer = ["q", "k", "v", "o", "gate", "up", "down"]
    return [f"l{i}.{w}" for i in range(layers) for w in per_layer]


def write_model(folder, layers, hidden, ff, vocab, heads, dtype):
    """The graph and its external data; returns (path, weight bytes, parameter count)."""
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper  # noqa: PLC0415

    np_dtype = np.dtype(dtype)
    elem = TensorProto.FLOAT if np_dtype == np.float32 else TensorProto.FLOAT16
    head = hidden // heads
    rng = np.random.default_rng(0)
    data_name = "weights.bin"
    inits, params, offset = [], 0, 0
    encodings = {"version": "1.0.0", "activation_encodings": [], "param_encodings": []}

    with open(os.path.join(folder, data_name), "wb") as data:
        def weight(name, shape, scale, quantize=True):
            nonlocal offset, params
            w = rng.standard_normal(shape, dtype=np.float32)
            w *= np.float32(scale)
            w = w.astype(np_dtype, copy=False)
            raw = w.tobytes()
            data.write(raw)
            t = TensorProto(name=name, data_type=elem, dims=list(shape))
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                t.external_data.add(key=k, value=v)
            inits.append(t)
            offset += len(raw)
            params += w.size
            if quantize:  # per output channel (MatMul weights [in, out]: the last axis)
                scales = np.maximum(np.abs(w.astype(np.float32)).max(axis=0), np.float32(1e-8)) / np.float32(7)
                encodings["param_encodings"].append({"name": name, "dtype": "INT", "enc_type": "PER_CHANNEL",
                                                     "bw": 4, "is_sym": True, "scale": scales.tolist(),
                                                     "offset": [-8] * int(shape[-1])})
            return name

        def ones(name, n):
            t = onnx.numpy_helper.from_array(np.ones(n, np_dtype), name)
            inits.append(t)
            return name

        nodes, inputs, outputs, acts = [], [], [], []
        inputs.append(helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "S"]))
        weight("embed", (vocab, hidden), 1.0, quantize=False)
        nodes.append(helper.make_node("Gather", ["embed", "input_ids"], ["h0"], name="embed_gather"))
        x = "h0"
        acts.append(x)
        for i in range(layers):
            def mm(src, w, out, n_in, n_out):
                weight(f"l{i}.{w}", (n_in, n_out), 1.0 / np.sqrt(n_in))
                nodes.append(helper.make_node("MatMul", [src, f"l{i}.{w}"], [out], name=f"l{i}.{w}_mm"))
                acts.append(out)
                return out

            p = f"l{i}."
            n1 = p + "norm1"
            nodes.append(helper.make_node("SimplifiedLayerNormalization", [x, ones(p + "g1", hidden)], [n1],
                                          axis=-1, epsilon=1e-5, name=n1))
            q, k, v = (mm(n1, w, p + w + "_out", hidden, hidden) for w in ("q", "k", "v"))
            pk, pv = f"past_key_{i}", f"past_value_{i}"
            inputs += [helper.make_tensor_value_info(n, elem, [1, heads, "P", head]) for n in (pk, pv)]
            att, prk, prv = p + "attn", f"present_key_{i}", f"present_value_{i}"
            nodes.append(helper.make_node("MultiHeadAttention", [q, k, v, "", "", "", pk, pv], [att, prk, prv],
                                          domain=MS, num_heads=heads, unidirectional=1, name=p + "mha"))
            outputs += [helper.make_tensor_value_info(n, elem, [1, heads, "T", head]) for n in (prk, prv)]
            acts.append(att)
            o = mm(att, "o", p + "o_out", hidden, hidden)
            r1 = p + "res1"
            nodes.append(helper.make_node("Add", [x, o], [r1], name=r1))
            n2 = p + "norm2"
            nodes.append(helper.make_node("SimplifiedLayerNormalization", [r1, ones(p + "g2", hidden)], [n2],
                                          axis=-1, epsilon=1e-5, name=n2))
            gate = mm(n2, "gate", p + "gate_out", hidden, ff)
            up = mm(n2, "up", p + "up_out", hidden, ff)
            nodes.append(helper.make_node("Sigmoid", [gate], [p + "sig"], name=p + "sig"))
            nodes.append(helper.make_node("Mul", [gate, p + "sig"], [p + "silu"], name=p + "silu"))
            nodes.append(helper.make_node("Mul", [p + "silu", up], [p + "glu"], name=p + "glu"))
            down = mm(p + "glu", "down", p + "down_out", ff, hidden)
            x = p + "res2"
            nodes.append(helper.make_node("Add", [r1, down], [x], name=x))
            acts += [n1, r1, n2, p + "sig", p + "silu", p + "glu", x]
        nodes.append(helper.make_node("SimplifiedLayerNormalization", [x, ones("g_final", hidden)], ["hf"],
                                      axis=-1, epsilon=1e-5, name="norm_final"))
        weight("lm_head", (hidden, vocab), 1.0 / np.sqrt(hidden))
        nodes.append(helper.make_node("MatMul", ["hf", "lm_head"], ["logits"], name="lm_head_mm"))
        acts += ["hf", "logits"]
        outputs.insert(0, helper.make_tensor_value_info("logits", elem, [1, "S", vocab]))

    graph = helper.make_graph(nodes, "decoder", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    path = os.path.join(folder, "decoder.onnx")
    onnx.save(model, path)
    scale = 2 * ACT_RANGE / 65535
    encodings["activation_encodings"] = [{"name": n, "dtype": "INT", "enc_type": "PER_TENSOR", "bw": 16,
                                          "is_sym": False, "scale": [scale], "offset": [-32768]} for n in acts]
    with open(os.path.join(folder, "decoder.encodings"), "w") as f:
        json.dump(encodings, f)
    return path, offset, params


def _status(field) -> int:
    """VmHWM (peak) or VmRSS (now) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _child(engine, path, layers, heads, head, dtype, tokens):
    import onnxruntime as ort  # noqa: PLC0415

    from simulator.session import InferenceSession  # noqa: PLC0415

    base = _status("VmRSS")  # the interpreter and its libraries, before the model
    start = time.perf_counter()
    if engine == "onnxruntime":
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    else:
        enc = os.path.splitext(path)[0] + ".encodings" if engine == "w4a16" else None
        sess = InferenceSession(path, enc)
    load = time.perf_counter() - start
    past = {}
    for i in range(layers):
        past[f"past_key_{i}"] = np.zeros((1, heads, 1, head), dtype)
        past[f"past_value_{i}"] = np.zeros((1, heads, 1, head), dtype)
    names = ["logits"] + [f"present_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
    token, steps = 1, []
    for _ in range(tokens + 1):
        feeds = {"input_ids": np.array([[token]], np.int64), **past}
        t = time.perf_counter()
        out = sess.run(names, feeds)
        steps.append(time.perf_counter() - t)
        token = int(np.argmax(out[0][0, -1]))
        for i in range(layers):
            past[f"past_key_{i}"], past[f"past_value_{i}"] = out[1 + 2 * i], out[2 + 2 * i]
    print(json.dumps({"load_s": load, "steps_s": steps, "peak_bytes": _status("VmHWM"), "base_bytes": base}))


def run(args) -> dict:
    head = args.hidden // args.heads
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        start = time.perf_counter()
        path, weight_bytes, params = write_model(tmp, args.layers, args.hidden, args.ff, args.vocab, args.heads,
                                                 args.dtype)
        out = {"parameters": params, "weight_bytes": weight_bytes, "dtype": args.dtype, "layers": args.layers,
               "hidden": args.hidden, "ff": args.ff, "vocab": args.vocab, "tokens": args.tokens,
               "write_s": round(time.perf_counter() - start, 1)}
        for engine in ("onnxruntime", "float", "w4a16"):
            done = subprocess.run([sys.executable, __file__, "_child", engine, path, str(args.layers),
                                   str(args.heads), str(head), args.dtype, str(args.tokens)],
                                  capture_output=True, text=True)
            if done.returncode:
                out[engine] = {"error": done.stderr.strip().splitlines()[-1:]}
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            later = r["steps_s"][1:]
            out[engine] = {"load_s": round(r["load_s"], 2), "first_step_s": round(r["steps_s"][0], 3),
                           "token_s_min": round(min(later), 4), "token_s_mean": round(sum(later) / len(later), 4),
                           "peak_gib": round(r["peak_bytes"] / 2 ** 30, 2),
                           "libraries_gib": round(r["base_bytes"] / 2 ** 30, 2),
                           "peak_x_weights": round(r["peak_bytes"] / weight_bytes, 2),
                           "peak_over_libraries_x_weights": round((r["peak_bytes"] - r["base_bytes"]) / weight_bytes, 2)}
    ort_s = out.get("onnxruntime", {}).get("token_s_min")
    if ort_s:
        out["token_ratio_to_onnxruntime"] = {e: round(out[e]["token_s_min"] / ort_s, 2)
                                             for e in ("float", "w4a16") if "token_s_min" in out[e]}
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        _child(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6], int(argv[7]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--ff", type=int, default=5632)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--tokens", type=int, default=4)
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    p.add_argument("--keep", default=None, help="folder for the temporary model (default: the system's)")
    args = p.parse_args(argv)
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
