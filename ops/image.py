"""Spatial sampling and detection ops: GridSample, AffineGrid, RoiAlign, NonMaxSuppression, Col2Im, DeformConv,
MaxUnpool, ImageDecoder.

GridSample works on N-D inputs: coordinates are denormalised per axis (align_corners), moved inside by the padding
mode (border clamps, reflection reflects at the borders), then the 2^r (linear) or 4^r (cubic, Keys a = -0.75)
neighbours are gathered with the padding mode's rule and weighted. RoiAlign follows ONNX Runtime's sampling (the max
mode takes the largest weighted corner). ImageDecoder needs an image library (Pillow) and refuses without one.
"""
from __future__ import annotations

import itertools
import math

from .registry import register


# ---------------------------------------------------------------------------------------------- GridSample

def _reflect(xp, x, lo, hi):
    rng = hi - lo
    below, above = x < lo, x > hi
    d = xp.where(below, lo - x, x - hi)
    n = xp.trunc(d / rng) if rng > 0 else xp.zeros_like(d)
    r = d - n * rng
    even = (n % 2) == 0
    low_side = xp.where(even, lo + r, hi - r)
    high_side = xp.where(even, hi - r, lo + r)
    return xp.where(below, low_side, xp.where(above, high_side, x))


def _cubic_coeffs(xp, t):
    a = -0.75
    t = xp.abs(t)
    c0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    c1 = ((a + 2) * t - (a + 3)) * t * t + 1
    c2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    c3 = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a
    return [c0, c1, c2, c3]


def _grid_sample(xp, X, grid, mode, padding_mode, align_corners):
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    N, C = X.shape[:2]
    dims = X.shape[2:]
    r = len(dims)
    out_sp = grid.shape[1:-1]
    coords = []
    bounds = []
    for i, d in enumerate(dims):
        g = grid[..., r - 1 - i]
        x = (g + 1) / 2.0 * (d - 1) if align_corners else ((g + 1) * d - 1) / 2.0
        lo, hi = (0.0, d - 1.0) if align_corners else (-0.5, d - 0.5)
        if mode == "nearest":
            x = xp.rint(x)
        # Cubic applies the padding mode to each tap (as ONNX Runtime and PyTorch); the other modes move the
        # coordinate itself inside first.
        if padding_mode == "border" and mode != "cubic":
            x = xp.where((x < lo) | (x > hi), xp.clip(x, 0, d - 1), x)
        elif padding_mode == "reflection" and mode != "cubic":
            x = _reflect(xp, x, lo, hi)
        coords.append(x)
        bounds.append((lo, hi))

    def fetch_index(i, idx):
        d = dims[i]
        if padding_mode == "zeros":
            valid = (idx >= 0) & (idx < d)
            return xp.clip(idx, 0, d - 1), valid
        if padding_mode == "border":
            return xp.clip(idx, 0, d - 1), None
        lo, hi = bounds[i]
        ref = _reflect(xp, idx.astype(coords[i].dtype), lo, hi)
        return xp.clip(xp.trunc(ref).astype(xp.int64), 0, d - 1), None

    taps = []  # per axis: list of (index, weight)
    for i, x in enumerate(coords):
        if mode == "nearest":
            taps.append([(x.astype(xp.int64), None)])
            continue
        x0 = xp.floor(x)
        t = x - x0
        x0 = x0.astype(xp.int64)
        if mode == "linear":
            taps.append([(x0, 1 - t), (x0 + 1, t)])
        elif mode == "cubic":
            cs = _cubic_coeffs(xp, t)
            taps.append([(x0 - 1 + k, cs[k]) for k in range(4)])
        else:
            raise ValueError(f"GridSample: unknown mode {mode!r}")
    n_idx = xp.arange(N).reshape((N,) + (1,) * len(out_sp))
    acc = xp.zeros((N,) + tuple(out_sp) + (C,), dtype=xp.float64)
    for combo in itertools.product(*taps):
        index = [n_idx, slice(None)]
        w = None
        valid = None
        for i, (idx, weight) in enumerate(combo):
            idx, ok = fetch_index(i, idx)
            index.append(idx)
            if ok is not None:
                valid = ok if valid is None else valid & ok
            if weight is not None:
                w = weight if w is None else w * weight
        v = X[tuple(index)].astype(xp.float64)  # (N, *out, C)
        if valid is not None:
            v = v * valid[..., None]
        acc = acc + (v if w is None else v * w[..., None].astype(xp.float64))
    return xp.moveaxis(acc, -1, 1).astype(X.dtype)


@register("GridSample", 16)
def GridSample_16(xp, X, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    return _grid_sample(xp, X, grid, mode, padding_mode, align_corners)


@register("GridSample", 20, 22)
def GridSample(xp, X, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    return _grid_sample(xp, X, grid, mode, padding_mode, align_corners)


@register("AffineGrid", 20, host_inputs=(1,))
def AffineGrid(xp, theta, size, *, align_corners=0):
    size = [int(v) for v in size.reshape(-1).tolist()]
    N, sp = size[0], size[2:]
    axes = []
    for d in sp:
        if align_corners:
            a = xp.linspace(-1.0, 1.0, d) if d > 1 else xp.zeros(d)
        else:
            a = (xp.arange(d) * 2.0 + 1.0) / d - 1.0
        axes.append(a.astype(theta.dtype))
    mesh = xp.meshgrid(*axes, indexing="ij")  # (D,) H, W
    # Homogeneous coordinates in (x, y[, z]) order: the last spatial axis first.
    base = xp.stack([m for m in reversed(mesh)] + [xp.ones_like(mesh[0])], axis=-1)
    flat = base.reshape(-1, len(sp) + 1)
    out = xp.einsum("pk,njk->npj", flat, theta)
    return out.reshape((N,) + tuple(sp) + (len(sp),)).astype(theta.dtype)


# ---------------------------------------------------------------------------------------------- RoiAlign

def _roi_align(xp, X, rois, batch_indices, mode, output_height, output_width, sampling_ratio, spatial_scale,
               half_pixel):
    N, C, H, W = X.shape
    R = rois.shape[0]
    Y = xp.zeros((R, C, output_height, output_width), dtype=X.dtype)
    off = 0.5 if half_pixel else 0.0
    for r in range(R):
        b = int(batch_indices[r])
        x1, y1, x2, y2 = [float(v) * spatial_scale - off for v in rois[r].tolist()]
        rw, rh = x2 - x1, y2 - y1
        if not half_pixel:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / output_height, rw / output_width
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / output_height))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / output_width))
        count = max(gh * gw, 1)
        data = X[b].astype(xp.float64)
        for ph in range(output_height):
            for pw in range(output_width):
                acc = None
                for iy in range(gh):
                    y = y1 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = x1 + pw * bw + (ix + 0.5) * bw / gw
                        if y < -1.0 or y > H or x < -1.0 or x > W:
                            vals = [xp.zeros(C)] * 4
                            ws = [0.0] * 4
                        else:
                            yy, xx = max(y, 0.0), max(x, 0.0)
                            yl, xl = int(yy), int(xx)
                            if yl >= H - 1:
                                yh = yl = H - 1
                                yy = float(yl)
                            else:
                                yh = yl + 1
                            if xl >= W - 1:
                                xh = xl = W - 1
                                xx = float(xl)
                            else:
                                xh = xl + 1
                            ly, lx = yy - yl, xx - xl
                            hy, hx = 1.0 - ly, 1.0 - lx
                            ws = [hy * hx, hy * lx, ly * hx, ly * lx]
                            vals = [data[:, yl, xl], data[:, yl, xh], data[:, yh, xl], data[:, yh, xh]]
                        if mode == "avg":
                            v = sum(w * v for w, v in zip(ws, vals))
                            acc = v if acc is None else acc + v
                        else:
                            v = xp.maximum(xp.maximum(ws[0] * vals[0], ws[1] * vals[1]),
                                           xp.maximum(ws[2] * vals[2], ws[3] * vals[3]))
                            acc = v if acc is None else xp.maximum(acc, v)
                if acc is None:
                    continue
                Y[r, :, ph, pw] = acc / count if mode == "avg" else acc
    return Y


@register("RoiAlign", 10)
def RoiAlign_10(xp, X, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0,
                spatial_scale=1.0):
    return _roi_align(xp, X, rois, batch_indices, mode, output_height, output_width, sampling_ratio,
                      spatial_scale, False)


@register("RoiAlign", 16, 22)
def RoiAlign(xp, X, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
             output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    return _roi_align(xp, X, rois, batch_indices, mode, output_height, output_width, sampling_ratio,
                      spatial_scale, coordinate_transformation_mode == "half_pixel")


# ---------------------------------------------------------------------------------------------- NonMaxSuppression

@register("NonMaxSuppression", 10, 11, host_inputs=(0, 1, 2, 3, 4))
def NonMaxSuppression(xp, boxes, scores, max_output_boxes_per_class=None, iou_threshold=None,
                      score_threshold=None, *, center_point_box=0):
    limit = 0 if max_output_boxes_per_class is None else int(max_output_boxes_per_class.reshape(-1)[0])
    iou_t = 0.0 if iou_threshold is None else float(iou_threshold.reshape(-1)[0])
    score_t = None if score_threshold is None else float(score_threshold.reshape(-1)[0])
    selected = []
    b = boxes.astype("float64")
    if center_point_box:
        xc, yc, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        y1, x1, y2, x2 = yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    else:
        y1 = xp.minimum(b[..., 0], b[..., 2])
        y2 = xp.maximum(b[..., 0], b[..., 2])
        x1 = xp.minimum(b[..., 1], b[..., 3])
        x2 = xp.maximum(b[..., 1], b[..., 3])
    area = (y2 - y1) * (x2 - x1)
    for n in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            if limit <= 0:
                continue
            s = scores[n, c]
            order = [int(i) for i in sorted(range(s.shape[0]), key=lambda i: -float(s[i]))]
            if score_t is not None:
                order = [i for i in order if float(s[i]) > score_t]
            kept = []
            for i in order:
                if len(kept) >= limit:
                    break
                ok = True
                for j in kept:
                    ih = max(0.0, min(y2[n, i], y2[n, j]) - max(y1[n, i], y1[n, j]))
                    iw = max(0.0, min(x2[n, i], x2[n, j]) - max(x1[n, i], x1[n, j]))
                    inter = ih * iw
                    union = area[n, i] + area[n, j] - inter
                    if union > 0 and inter / union > iou_t:
                        ok = False
                        break
                if ok:
                    kept.append(i)
            selected.extend([n, c, i] for i in kept)
    return xp.asarray(selected, dtype=xp.int64).reshape(-1, 3)


# ---------------------------------------------------------------------------------------------- Col2Im

@register("Col2Im", 18, host_inputs=(1, 2))
def Col2Im(xp, input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    img = [int(v) for v in image_shape.reshape(-1).tolist()]
    blk = [int(v) for v in block_shape.reshape(-1).tolist()]
    n = len(img)
    dil = list(dilations) if dilations else [1] * n
    st = list(strides) if strides else [1] * n
    pd = list(pads) if pads else [0] * (2 * n)
    N = input.shape[0]
    K = math.prod(blk)
    C = input.shape[1] // K
    outs = [(img[i] + pd[i] + pd[i + n] - dil[i] * (blk[i] - 1) - 1) // st[i] + 1 for i in range(n)]
    cols = input.reshape((N, C) + tuple(blk) + tuple(outs))
    padded = xp.zeros((N, C) + tuple(img[i] + pd[i] + pd[i + n] for i in range(n)), dtype=input.dtype)
    for k in itertools.product(*[range(b) for b in blk]):
        dst = (slice(None), slice(None)) + tuple(
            slice(k[i] * dil[i], k[i] * dil[i] + (outs[i] - 1) * st[i] + 1, st[i]) for i in range(n))
        padded[dst] += cols[(slice(None), slice(None)) + k]
    crop = (slice(None), slice(None)) + tuple(slice(pd[i], pd[i] + img[i]) for i in range(n))
    return padded[crop]


# ---------------------------------------------------------------------------------------------- DeformConv

@register("DeformConv", 19, 22)
def DeformConv(xp, X, W, offset, B=None, mask=None, *, dilations=None, group=1, kernel_shape=None,
               offset_group=1, pads=None, strides=None):
    N, C, H, Wd = X.shape
    M, Cg, kh, kw = W.shape
    dh, dw = dilations or (1, 1)
    sh, sw = strides or (1, 1)
    pt, pl, pb, pr = pads or (0, 0, 0, 0)
    oh = (H + pt + pb - (dh * (kh - 1) + 1)) // sh + 1
    ow = (Wd + pl + pr - (dw * (kw - 1) + 1)) // sw + 1
    K = kh * kw
    G, OG = int(group), int(offset_group)
    off = offset.reshape(N, OG, K, 2, oh, ow).astype(xp.float64)
    msk = xp.ones((N, OG, K, oh, ow)) if mask is None else mask.reshape(N, OG, K, oh, ow).astype(xp.float64)
    base_y = (xp.arange(oh) * sh - pt).reshape(oh, 1)
    base_x = (xp.arange(ow) * sw - pl).reshape(1, ow)
    Xd = X.astype(xp.float64)
    cols = xp.zeros((N, C, K, oh, ow))
    cpg = C // OG
    n_idx = xp.arange(N).reshape(N, 1, 1, 1)
    for k in range(K):
        i, j = divmod(k, kw)
        for g in range(OG):
            y = base_y + i * dh + off[:, g, k, 0]  # (N, oh, ow)
            x = base_x + j * dw + off[:, g, k, 1]
            y0, x0 = xp.floor(y), xp.floor(x)
            ly, lx = y - y0, x - x0
            y0, x0 = y0.astype(xp.int64), x0.astype(xp.int64)
            ch = xp.arange(g * cpg, (g + 1) * cpg).reshape(1, cpg, 1, 1)
            val = xp.zeros((N, cpg, oh, ow))
            for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
                for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
                    ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < Wd)
                    v = Xd[n_idx, ch, xp.clip(yy, 0, H - 1)[:, None], xp.clip(xx, 0, Wd - 1)[:, None]]
                    val = val + v * (wy * wx * ok)[:, None]
            cols[:, g * cpg:(g + 1) * cpg, k] = val * msk[:, g, k][:, None]
    cols = cols.reshape(N, G, (C // G) * K, oh * ow)
    w = W.reshape(G, M // G, Cg * K).astype(xp.float64)
    Y = xp.einsum("gmk,ngkp->ngmp", w, cols).reshape(N, M, oh, ow)
    if B is not None:
        Y = Y + B.reshape(1, M, 1, 1)
    return Y.astype(X.dtype)


# ---------------------------------------------------------------------------------------------- MaxUnpool

@register("MaxUnpool", 9, 11, 22, host_inputs=(2,))
def MaxUnpool(xp, X, I, output_shape=None, *, kernel_shape, pads=None, strides=None):
    n = X.ndim - 2
    st = list(strides) if strides else [1] * n
    pd = list(pads) if pads else [0] * (2 * n)
    inferred = list(X.shape[:2]) + [(X.shape[2 + i] - 1) * st[i] + kernel_shape[i] - pd[i] - pd[i + n]
                                    for i in range(n)]
    out = xp.zeros(math.prod(inferred), dtype=X.dtype)
    out[I.reshape(-1).astype(xp.int64)] = X.reshape(-1)
    out = out.reshape(inferred)
    if output_shape is None:
        return out
    # The indices address the inferred shape; a larger output_shape holds it in its leading corner.
    shape = [int(v) for v in output_shape.reshape(-1).tolist()]
    res = xp.zeros(shape, dtype=X.dtype)
    res[tuple(slice(0, d) for d in inferred)] = out
    return res


# ---------------------------------------------------------------------------------------------- ImageDecoder

@register("ImageDecoder", 20)
def ImageDecoder(xp, encoded_stream, *, pixel_format="RGB"):
    try:
        import io

        from PIL import Image  # noqa: PLC0415 - optional image library
    except ImportError:
        raise NotImplementedError("ImageDecoder needs an image library (Pillow), which is not installed") from None
    img = Image.open(io.BytesIO(bytes(encoded_stream.reshape(-1).tolist())))
    if pixel_format == "Grayscale":
        return xp.asarray(img.convert("L"), dtype=xp.uint8)[..., None]
    arr = xp.asarray(img.convert("RGB"), dtype=xp.uint8)
    return arr[..., ::-1].copy() if pixel_format == "BGR" else arr


@register("MaxRoiPool", 1, 22)
def MaxRoiPool(xp, X, rois, *, pooled_shape, spatial_scale=1.0):
    N, C, H, W = X.shape
    ph_n, pw_n = pooled_shape
    Y = xp.zeros((rois.shape[0], C, ph_n, pw_n), dtype=X.dtype)
    for r, roi in enumerate(rois.tolist()):
        b = int(roi[0])
        # C++ round (half away from zero) of the scaled corners, as ONNX Runtime.
        x1, y1, x2, y2 = [int(math.floor(abs(v * spatial_scale) + 0.5)) * (1 if v >= 0 else -1) for v in roi[1:5]]
        rh, rw = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        bh, bw = rh / ph_n, rw / pw_n
        for ph in range(ph_n):
            hs = min(max(int(math.floor(ph * bh)) + y1, 0), H)
            he = min(max(int(math.ceil((ph + 1) * bh)) + y1, 0), H)
            for pw in range(pw_n):
                ws = min(max(int(math.floor(pw * bw)) + x1, 0), W)
                we = min(max(int(math.ceil((pw + 1) * bw)) + x1, 0), W)
                if he > hs and we > ws:
                    Y[r, :, ph, pw] = X[b, :, hs:he, ws:we].max(axis=(1, 2))
    return Y
