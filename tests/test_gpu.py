"""CPU vs GPU (CuPy) parity. Skips, saying why, where CuPy or a CUDA device is missing (as in CI).

Run on a GPU machine with `bash scripts/gpu_check.sh`.
"""
import os

import numpy as np
import pytest

from simulator.errors import DeviceError
from tests.conftest import GOLDEN, golden_cases, require_golden


def _gpu_reason():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device is visible"
    except ImportError:
        return "CuPy is not installed (pip install '.[cuda]')"
    except Exception as exc:  # driver missing
        return f"no usable CUDA device ({exc})"
    return None


REASON = _gpu_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"GPU tests need a GPU: {REASON}")
CASES = golden_cases() or ["<no golden cases>"]


def test_fake_quantize_is_bit_identical_on_gpu():
    import cupy

    from simulator.quantization import HALF_TO_EVEN, Encoding, Granularity, bind

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 4096)) * 4).astype(np.float32)
    x[0, :8] = [np.nan, np.inf, -np.inf, 0.5, -0.5, 1e30, -1e30, 0.0]
    grid = np.round(rng.standard_normal(4096) * 300).astype(np.float32) * np.float32(0.0123)  # ties after /2
    encodings = [
        Encoding("a", "int", 8, np.float32([0.0123]), np.float32([-128])),
        Encoding("b", "int", 16, np.float32([6.582019755964507e-05]), np.float32([-32768])),
        Encoding("c", "int", 4, np.float32([0.3]), np.float32([-3])),
        Encoding("d", "int", 8, (rng.random(64).astype(np.float32) + 0.01) / 50, np.full(64, -128, np.float32),
                 granularity=Granularity.PER_CHANNEL, axis=0),
        Encoding("e", "float", 16),
    ]
    for enc in encodings:
        for rounding in ("half_away_from_zero", HALF_TO_EVEN):
            for data in (x, np.broadcast_to(grid / 2, x.shape).copy()):
                q = bind(enc, data.shape, 0, rounding)
                cpu = q(np, data)
                gpu = q.to(cupy)(cupy, cupy.asarray(data)).get()
                # Same bits everywhere; NaN stays NaN (its payload bits may differ between devices).
                nan = np.isnan(cpu)
                np.testing.assert_array_equal(nan, np.isnan(gpu))
                np.testing.assert_array_equal(cpu[~nan].view(np.uint32), gpu[~nan].view(np.uint32),
                                              err_msg=f"{enc.name} {rounding}")


@pytest.mark.parametrize("case", CASES)
def test_golden_case_gpu_matches_cpu_and_aimet(case):
    require_golden()
    from simulator.session import InferenceSession
    from simulator.data import iter_samples

    d = os.path.join(GOLDEN, case)
    cpu = InferenceSession(os.path.join(d, "model.onnx"), os.path.join(d, "model.encodings"))
    gpu = InferenceSession(os.path.join(d, "model.onnx"), os.path.join(d, "model.encodings"), use_cuda=True)
    names = [o.name for o in cpu.get_outputs()]
    signal = noise = 0.0
    for sample, feed in iter_samples(os.path.join(d, "data"), cpu.interpreter.inputs):
        a = cpu.run(None, feed)
        b = gpu.run(None, feed)
        with np.load(os.path.join(d, "expected", f"{sample}.quant.npz")) as ref:
            for name, x, y in zip(names, a, b):
                assert isinstance(y, np.ndarray) and y.dtype == x.dtype and y.shape == x.shape
                e = ref[name].astype(np.float64)
                signal += float(np.sum(e ** 2))
                noise += float(np.sum((y.astype(np.float64) - e) ** 2))
    snr = np.inf if noise == 0 else 10 * np.log10(signal / noise)
    assert snr >= 75, f"{case}: GPU quantized SNR {snr:.1f} dB vs AIMET"


def test_use_cuda_reports_missing_pieces_clearly(monkeypatch):
    import builtins

    from simulator.backend import array_module

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(DeviceError, match="CuPy is not installed"):
        array_module(True)


@pytest.mark.parametrize("case", CASES[::3])
def test_deterministic_mode_same_bits_on_cpu_and_gpu(case):
    require_golden()
    from simulator.session import InferenceSession
    from simulator.data import iter_samples

    d = os.path.join(GOLDEN, case)
    model, enc = os.path.join(d, "model.onnx"), os.path.join(d, "model.encodings")
    cpu = InferenceSession(model, enc, deterministic=True)
    gpu = InferenceSession(model, enc, use_cuda=True, deterministic=True)
    names = cpu.tensor_names
    for _, feed in iter_samples(os.path.join(d, "data"), cpu.interpreter.inputs):
        a, b = cpu.run(names, feed), gpu.run(names, feed)
        same = sum(int(np.array_equal(x, y, equal_nan=True)) for x, y in zip(a, b))
        assert same == len(names), f"{case}: {len(names) - same} of {len(names)} tensors differ"
