"""Kernel tests of ops/ml.py (ai.onnx.ml): LabelEncoder, Binarizer, ArrayFeatureExtractor against ONNX Runtime."""
import numpy as np

from tests.ops.harness import assert_same

ML = "ai.onnx.ml"


def test_label_encoder():
    x = np.array(["a", "c", "zz", "b"], dtype=object)
    assert_same("LabelEncoder", [x], opset=2, domain=ML, keys_strings=["a", "b", "c"], values_int64s=[7, 8, 9],
                default_int64=-5)
    ints = np.array([[3, 1], [2, 9]], np.int64)
    assert_same("LabelEncoder", [ints], opset=2, domain=ML, keys_int64s=[1, 2, 3], values_floats=[0.5, 1.5, 2.5])
    assert_same("LabelEncoder", [ints], opset=2, domain=ML, keys_int64s=[1, 3], values_strings=["one", "three"])


def test_binarizer_and_array_feature_extractor():
    x = np.array([[-1.0, 0.0, 0.3], [2.0, 0.2, -0.2]], np.float32)
    assert_same("Binarizer", [x], opset=1, domain=ML, threshold=0.2)
    assert_same("ArrayFeatureExtractor", [x, np.array([2, 0], np.int64)], opset=1, domain=ML)
    assert_same("ArrayFeatureExtractor", [x[0], np.array([1], np.int64)], opset=1, domain=ML)
