import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

RNG = np.random.default_rng(0)


def r(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
@pytest.mark.parametrize("shapes,attrs", [
    ([(5, 7), (7, 3), (3,)], {}),
    ([(7, 5), (3, 7), (5, 3)], dict(transA=1, transB=1, alpha=0.5, beta=2.0)),
    ([(5, 7), (7, 3), (5, 1)], dict(beta=0.0)),
    ([(5, 7), (7, 3), ()], dict(alpha=3.0)),
])
def test_gemm_matches_ort(shapes, attrs, opset):
    ins = [r(*s) for s in shapes]
    (out,) = run_kernel("Gemm", ins, opset=opset, **attrs)
    (ref,) = run_ort("Gemm", ins, opset=opset, **attrs)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_gemm_optional_c():
    a, b = r(4, 6), r(6, 2)
    (out,) = run_kernel("Gemm", [a, b, None], opset=13)
    np.testing.assert_allclose(out, run_ort("Gemm", [a, b, None], opset=13)[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("opset", [1, 9, 13])
@pytest.mark.parametrize("sa,sb", [((5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 4)), ((7,), (3, 7, 4)),
                                   ((2, 5, 7), (7,)), ((7,), (7,))])
def test_matmul_matches_ort(sa, sb, opset):
    a, b = r(*sa), r(*sb)
    (out,) = run_kernel("MatMul", [a, b], opset=opset)
    (ref,) = run_ort("MatMul", [a, b], opset=opset)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes,eq", [
    ([(2, 3, 4), (2, 4, 5)], "bij,bjk->bik"),
    ([(3, 4), (4, 5)], "ij,jk"),
    ([(2, 3, 3)], "...ii->...i"),
    ([(3, 4)], "ij->ji"),
    ([(3, 4), (3, 4)], "ij, ij -> i"),
])
def test_einsum_matches_ort(shapes, eq):
    ins = [r(*s) for s in shapes]
    (out,) = run_kernel("Einsum", ins, opset=12, equation=eq)
    (ref,) = run_ort("Einsum", ins, opset=12, equation=eq)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_einsum_28_upper_case_implicit():
    a, b = r(3, 4), r(4, 5)
    (out,) = run_kernel("Einsum", [a, b], opset=28, equation="Aj,jb")
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
