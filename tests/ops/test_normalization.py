import numpy as np
import pytest

from tests.ops.harness import max_ulp_diff, run_kernel, run_ort, run_reference

RNG = np.random.default_rng(0)


def r(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def bn_inputs(shape):
    c = shape[1]
    return [r(*shape) * 3 + 1, r(c), r(c), r(c), np.abs(r(c)) + 0.1]


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
@pytest.mark.parametrize("shape,attrs", [((2, 5, 6, 7), {}), ((2, 5, 6), dict(epsilon=1e-3)), ((3, 5), {})])
def test_batch_norm_bit_exact(shape, attrs, opset):
    ins = bn_inputs(shape)
    (out,) = run_kernel("BatchNormalization", ins, opset=opset, **attrs)
    (ref,) = run_ort("BatchNormalization", ins, opset=opset, **attrs)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)


def test_batch_norm_old_opsets_and_spatial0():
    ins = bn_inputs((2, 3, 4, 4))
    (ref,) = run_ort("BatchNormalization", ins, opset=9)
    for opset in (1, 6):
        np.testing.assert_array_equal(run_kernel("BatchNormalization", ins, opset=opset, is_test=1)[0], ref)
    # spatial=0: per-element statistics, shaped like X.shape[1:].
    x = r(2, 3, 4)
    p = [r(3, 4), r(3, 4), r(3, 4), np.abs(r(3, 4)) + 0.1]
    (out,) = run_kernel("BatchNormalization", [x] + p, opset=7, spatial=0)
    expect = (x - p[2]) / np.sqrt(p[3] + np.float32(1e-5)) * p[0] + p[1]
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shapes,attrs", [
    ([(4, 7, 768), (768,), (768,)], {}),
    ([(4, 7, 64), (64,), (64,)], dict(epsilon=1e-3)),
    ([(3, 4, 5, 6), (5, 6), None], dict(axis=2)),
    ([(3, 4, 5, 6), (4, 5, 6), (4, 5, 6)], dict(axis=-3)),
])
def test_layer_norm_matches_ort(shapes, attrs):
    ins = [r(*s) * 2 + 0.5 if s else None for s in shapes]
    out = run_kernel("LayerNormalization", ins, n_outputs=3, opset=17, **attrs)
    ref = run_ort("LayerNormalization", ins, n_outputs=3, opset=17, **attrs)
    for o, e in zip(out, ref):
        assert o.dtype == np.float32 and o.shape == e.shape
    np.testing.assert_array_equal(out[1], ref[1])  # Mean: bit-exact
    # ORT 1.32's vectorised variance differs by a few ulps on some rows (see ops/normalization.py).
    assert max_ulp_diff(out[2], ref[2]) <= 4
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-5, atol=2e-6)


def test_rms_norm_matches_reference():
    x, s = r(3, 4, 64), r(64)
    (out,) = run_kernel("RMSNormalization", [x, s], opset=23)
    try:
        (ref,) = run_ort("RMSNormalization", [x, s], opset=23)
    except Exception:
        (ref,) = run_reference("RMSNormalization", [x, s], opset=23)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 5, 6, 7), (3, 5, 5, 5), (3, 5, 33), (3, 5, 64)])
@pytest.mark.parametrize("opset", [6, 22])
def test_instance_norm_bit_exact(shape, opset):
    x, s, b = r(*shape) * 2 + 1, r(shape[1]), r(shape[1])
    (out,) = run_kernel("InstanceNormalization", [x, s, b], opset=opset)
    (ref,) = run_ort("InstanceNormalization", [x, s, b], opset=opset)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("opset,nscale", [(18, 3), (21, 6)])
def test_group_norm(opset, nscale):
    x, s, b = r(2, 6, 5, 5), r(nscale), r(nscale)
    (out,) = run_kernel("GroupNormalization", [x, s, b], opset=opset, num_groups=3)
    (ref,) = run_ort("GroupNormalization", [x, s, b], opset=opset, num_groups=3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("opset", [1, 13])
@pytest.mark.parametrize("attrs", [dict(size=3), dict(size=5, alpha=0.01, beta=0.5, bias=2.0)])
def test_lrn(opset, attrs):
    x = r(2, 7, 5, 6)
    (out,) = run_kernel("LRN", [x], opset=opset, **attrs)
    (ref,) = run_ort("LRN", [x], opset=max(opset, 7), **attrs)
    assert out.dtype == np.float32
    assert max_ulp_diff(out, ref) <= 2


@pytest.mark.parametrize("opset,attrs", [(9, {}), (13, dict(axes=[1, 2, 3])), (13, dict(axes=[2, 3]))])
def test_mvn(opset, attrs):
    x = r(2, 3, 5, 6)
    (out,) = run_kernel("MeanVarianceNormalization", [x], opset=opset, **attrs)
    (ref,) = run_ort("MeanVarianceNormalization", [x], opset=opset, **attrs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
