"""The kernel registry: (domain, op_type, since_version) -> kernel function.

A kernel reads like the ONNX spec: `def Gemm(xp, A, B, C=None, *, alpha=1.0, beta=1.0, transA=0,
transB=0)`. `xp` is the array module (NumPy or CuPy) chosen by the interpreter; inputs come
positionally (an omitted optional input is None); attributes come as keywords with the spec's
defaults (only the attributes set on the node are passed). A kernel returns one array or a tuple.

Lookup is exact: a model's opset is normalised to the op's since_version through onnx's schemas,
and a since_version with no registered kernel is an error, never a silent fall back to an older
kernel whose semantics may differ.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import onnx.defs

from .errors import UnsupportedOpError

DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Kernel:
    fn: Callable
    domain: str
    op_type: str
    since_version: int
    # Inputs that are shapes, axes, pads...: the interpreter hands them over as host (NumPy) arrays,
    # so that a GPU run does not synchronise inside the kernel to read them.
    host_inputs: tuple[int, ...] = ()
    # Kernels whose result depends on how many outputs the node names (Split without sizes) take
    # the count as the keyword `_n_outputs`.
    takes_output_count: bool = False


_KERNELS: dict[tuple[str, str, int], Kernel] = {}


def register(op_type: str, *since_versions: int, domain: str = "", host_inputs: tuple[int, ...] = ()):
    """Register the decorated function as the kernel of `op_type` for each given since_version."""
    if not since_versions:
        raise ValueError(f"register({op_type!r}) needs at least one since_version")

    def decorator(fn: Callable) -> Callable:
        for version in since_versions:
            key = (domain, op_type, version)
            if key in _KERNELS:
                raise RuntimeError(f"kernel registered twice for {key}: {_KERNELS[key].fn} and {fn}")
            _KERNELS[key] = Kernel(fn, domain, op_type, version, tuple(host_inputs),
                                   "_n_outputs" in inspect.signature(fn).parameters)
        return fn

    return decorator


def normalise_domain(domain: str) -> str:
    return "" if domain in DEFAULT_DOMAINS else domain


def resolve(op_type: str, domain: str, opset: int, node_name: str = "") -> Kernel:
    """The kernel for `op_type` in `domain` at model opset `opset`, or UnsupportedOpError."""
    domain = normalise_domain(domain)
    where = f"node {node_name!r}, " if node_name else ""
    try:
        schema = onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain=domain)
    except onnx.defs.SchemaError:
        contrib = _contrib_kernel(op_type, domain, opset)
        if contrib is not None:
            return contrib
        known = sorted({k[1] for k in _KERNELS if k[0] == domain})
        raise UnsupportedOpError(
            f"unknown operator {op_type!r} in domain {domain or 'ai.onnx'!r} ({where}opset {opset}): "
            f"onnx defines no such op at that opset; ops with kernels in this domain: {', '.join(known)}"
        ) from None
    kernel = _KERNELS.get((domain, op_type, schema.since_version))
    if kernel is None:
        have = sorted(k[2] for k in _KERNELS if k[0] == domain and k[1] == op_type)
        detail = f"kernels exist for since_version {have}" if have else "no kernel exists for this op"
        raise UnsupportedOpError(
            f"unsupported operator {op_type!r} in domain {domain or 'ai.onnx'!r} ({where}opset {opset}, "
            f"since_version {schema.since_version}): {detail}"
        )
    return kernel


def _contrib_kernel(op_type: str, domain: str, opset: int) -> Kernel | None:
    """ONNX Runtime's contrib ops (com.microsoft, and the few it defines in the ONNX domain, such as
    SimplifiedLayerNormalization) have no schema in onnx: the newest kernel at or below the opset."""
    versions = [k[2] for k in _KERNELS if k[0] == domain and k[1] == op_type and k[2] <= opset]
    return _KERNELS[(domain, op_type, max(versions))] if versions else None


def registered() -> dict[tuple[str, str, int], Kernel]:
    """A copy of the registry, for docs and tests."""
    return dict(_KERNELS)
