"""Kernel tests of ops/string.py: strings are object arrays on the host.

StringNormalizer and StringSplit follow onnx.reference, which they are compared to: ONNX Runtime's
StringNormalizer needs the en_US.UTF-8 locale to change case (often absent) and keeps accents that the
reference strips, and its StringSplit counts an empty string as 0 pieces where the reference counts 1.
The other ops, and the inputs on which both agree, are compared to ONNX Runtime.
"""
import numpy as np

from tests.ops.harness import assert_same, run_kernel, run_ort, run_reference

WORDS = np.array(["Hello", "WORLD", "the", "Élan"], dtype=object)
ASCII = np.array(["Hello", "WORLD", "the"], dtype=object)


def _same_strings(op, inputs, ref, **attrs):
    (ours,) = run_kernel(op, inputs, opset=10, **attrs)
    (theirs,) = ref(op, inputs, opset=10, **attrs)  # the reference answers in a fixed-width str dtype
    assert ours.dtype == object and ours.shape == theirs.shape and ours.tolist() == theirs.tolist(), attrs


def test_string_normalizer():
    for action in ("NONE", "LOWER", "UPPER"):
        _same_strings("StringNormalizer", [WORDS], run_reference, case_change_action=action)
        _same_strings("StringNormalizer", [WORDS], run_reference, case_change_action=action, stopwords=["the"],
                      is_case_sensitive=1)
    # Stop words match regardless of case by default (the spec; onnx.reference matches "WORLD" only).
    (row,) = run_kernel("StringNormalizer", [WORDS[None]], opset=10, stopwords=["hello", "WORLD"])
    assert row.tolist() == [["the", "Elan"]]
    assert_same("StringNormalizer", [ASCII], opset=10, stopwords=["the"], is_case_sensitive=1)


def _same_split(text, ref, **attrs):
    outs = run_kernel("StringSplit", [text], n_outputs=2, opset=20, **attrs)
    refs = ref("StringSplit", [text], n_outputs=2, opset=20, **attrs)
    assert outs[0].tolist() == refs[0].tolist() and outs[1].tolist() == refs[1].tolist(), attrs


def test_string_concat_split_regex():
    assert_same("StringConcat", [WORDS, np.array(["!"], dtype=object)], opset=20)
    for attrs in ({}, {"delimiter": " "}, {"delimiter": " ", "maxsplit": 1}, {"delimiter": "b"}):
        _same_split(np.array(["a b  c", "one", "b"], dtype=object), run_ort, **attrs)
        _same_split(np.array([["a b  c", ""]], dtype=object), run_reference, **attrs)
    assert_same("RegexFullMatch", [WORDS], opset=20, pattern=r"[A-Z]+")


def test_tfidf_vectorizer():
    x = np.array([[1, 1, 3, 3, 3, 7], [8, 6, 7, 5, 6, 8]], np.int32)
    attrs = dict(max_gram_length=2, max_skip_count=0, min_gram_length=2, ngram_counts=[0, 4],
                 ngram_indexes=[0, 1, 2, 3, 4, 5, 6], pool_int64s=[2, 3, 5, 4, 5, 6, 7, 8, 6, 7])
    for mode in ("TF", "IDF", "TFIDF"):
        assert_same("TfIdfVectorizer", [x], opset=9, mode=mode, **attrs)
