"""AIMET's rules about which tensors get encodings and along which axis, independent of the file version."""
from __future__ import annotations

# Ops whose output AIMET does not quantize: they move or select values, the grid passes through
# (calibrate leaves them without an encoding; the comparison page hides them by default).
DATA_MOVEMENT_OPS = frozenset({
    "Reshape", "Transpose", "Split", "Slice", "MaxPool", "GlobalMaxPool", "Identity", "Flatten", "Squeeze",
    "Unsqueeze", "Pad", "Expand", "Tile", "Gather", "GatherElements", "GatherND", "DepthToSpace",
    "SpaceToDepth", "Dropout", "Cast", "Shape", "Size", "ConstantOfShape", "NonZero", "TopK", "ArgMax", "ArgMin",
})


def channel_axis_for_param(consumers: list[tuple[str, int, dict]], rank: int) -> int | None:
    """The per-channel axis AIMET uses for a weight, from the ops that consume it.

    consumers: (op_type, input_index, attributes) of each node reading the tensor (through
    Identity/Transpose already resolved by the caller). Conv -> 0; ConvTranspose -> 1;
    Gemm -> 0 if transB else 1; MatMul (input 1) -> last axis (-2 if a Transpose sits between).
    """
    for op_type, index, attrs in consumers:
        if op_type in ("Conv", "ConvInteger", "QLinearConv") and index == 1:
            return 0
        if op_type == "ConvTranspose" and index == 1:
            return 1
        if op_type == "Gemm" and index == 1:
            return 0 if attrs.get("transB", 0) else 1
        if op_type == "Gemm" and index == 0:
            return 1 if attrs.get("transA", 0) else 0
        if op_type == "MatMul" and index == 1:
            return rank - 1
        if op_type == "MatMul" and index == 0:
            return rank - 2 if rank >= 2 else 0
        if op_type == "Transpose->MatMul":
            return rank - 2
    return None
