"""String ops and text features: StringNormalizer, StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer.

Strings are object arrays of Python str and always live on the host: these kernels build their results with the
input's own array namespace (`ops.xp.host_namespace`), so a CUDA run keeps string tensors in NumPy.
"""
from __future__ import annotations

import re
import unicodedata

from .registry import register
from .xp import host_namespace, object_array


def _strip_accents(s: str) -> str:
    if s.isascii():
        return s
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


@register("StringNormalizer", 10)
def StringNormalizer(xp, X, *, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None):
    if case_change_action not in ("NONE", "LOWER", "UPPER"):
        raise ValueError(f"StringNormalizer: unknown case_change_action {case_change_action!r}")
    raw = set(stopwords or ())
    if case_change_action == "LOWER":
        stops = {w.lower() for w in raw}
    elif case_change_action == "UPPER":
        stops = {w.upper() for w in raw}
    else:
        stops = raw
    if not is_case_sensitive:
        stops = {w.lower() for w in raw}

    def one(s):
        s = _strip_accents(s if isinstance(s, str) else "")
        if is_case_sensitive and raw:
            s = " ".join(w for w in s.split(" ") if w not in raw)
        if case_change_action == "LOWER":
            s = s.lower()
        elif case_change_action == "UPPER":
            s = s.upper()
        if not is_case_sensitive and raw:
            s = " ".join(w for w in s.split(" ") if w.lower() not in stops)
        return s

    values = [one(s) for s in X.reshape(-1).tolist()]
    # Strings that became empty (stop words) are dropped from a single row.
    kept = [v for v in values if v] or [""]
    if X.ndim == 2 and X.shape[0] == 1:
        return object_array(X, kept, (1, len(kept)))
    if X.ndim == 1:
        return object_array(X, kept, (len(kept),))
    return object_array(X, values, X.shape)


@register("StringConcat", 20)
def StringConcat(xp, X, Y):
    ns = host_namespace(X)
    a, b = ns.broadcast_arrays(X, Y)
    return object_array(X, [str(p) + str(q) for p, q in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist())], a.shape)


@register("StringSplit", 20)
def StringSplit(xp, X, *, delimiter=None, maxsplit=None):
    sep = delimiter or None
    parts = [s.split(sep) if maxsplit is None else s.split(sep, maxsplit) for s in X.reshape(-1).tolist()]
    width = max((len(p) for p in parts), default=0)
    flat = [w for p in parts for w in p + [""] * (width - len(p))]
    ns = host_namespace(X)
    counts = ns.asarray([len(p) for p in parts], dtype=ns.int64).reshape(X.shape)
    return object_array(X, flat, X.shape + (width,)), counts


@register("RegexFullMatch", 20)
def RegexFullMatch(xp, X, *, pattern=None):
    rx = re.compile(pattern)
    ns = host_namespace(X)
    return ns.asarray([rx.fullmatch(s) is not None for s in X.reshape(-1).tolist()], dtype=bool).reshape(X.shape)


@register("TfIdfVectorizer", 9)
def TfIdfVectorizer(xp, X, *, max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts, ngram_indexes,
                    pool_int64s=None, pool_strings=None, weights=None):
    pool = list(pool_int64s if pool_int64s is not None else pool_strings)
    # n-gram (tuple) -> output column, for the n-gram lengths in [min_gram_length, max_gram_length].
    grams, gid = {}, 0
    for i, start in enumerate(ngram_counts):
        end = ngram_counts[i + 1] if i + 1 < len(ngram_counts) else len(pool)
        n = i + 1
        for k in range((end - start) // n):
            if min_gram_length <= n <= max_gram_length:
                grams[tuple(pool[start + k * n:start + (k + 1) * n])] = ngram_indexes[gid]
            gid += 1
    out_size = max(ngram_indexes) + 1
    rows = X.reshape(1, -1) if X.ndim == 1 else X.reshape(X.shape[0], -1)
    counts = [[0] * out_size for _ in range(rows.shape[0])]
    for r, row in enumerate(rows.tolist()):
        L = len(row)
        for skip in range(1, max_skip_count + 2):
            lo = min_gram_length if skip == 1 else max(2, min_gram_length)
            for start in range(L):
                for n in range(lo, max_gram_length + 1):
                    last = start + (n - 1) * skip
                    if last >= L:
                        break
                    col = grams.get(tuple(row[start:last + 1:skip]))
                    if col is not None:
                        counts[r][col] += 1
    ns = host_namespace(X) if X.dtype == object else xp
    Y = ns.asarray(counts, dtype=ns.float32)
    if mode == "IDF":
        Y = (Y > 0).astype(ns.float32)
        if weights:
            Y = Y * ns.asarray(weights, dtype=ns.float32)
    elif mode == "TFIDF" and weights:
        Y = Y * ns.asarray(weights, dtype=ns.float32)
    elif mode not in ("TF", "IDF", "TFIDF"):
        raise ValueError(f"TfIdfVectorizer: unknown mode {mode!r}")
    return Y.reshape(-1) if X.ndim == 1 else Y
