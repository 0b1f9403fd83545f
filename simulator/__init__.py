"""A bit-exact quantization simulator for ONNX models with AIMET encodings."""
__version__ = "0.1.0"
