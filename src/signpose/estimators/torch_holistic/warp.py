"""OpenCV 4.x `warpPerspective(..., INTER_LINEAR)` on uint8 images, batched, in torch.

OpenCV maps every destination pixel through the inverse matrix in float64 (in blocks of 64
columns: X0 = M0*xb + M1*y + M2, then + M0*x1), rounds the source coordinate to 1/32 pixel
(INTER_TAB_SIZE), and interpolates with integer weights that sum to 2^15
(INTER_REMAP_COEF_SCALE), rounding the result half up to uint8. This module does the same
arithmetic, so the crops are bit-identical to OpenCV's except where a coordinate lies within
float64 rounding of a 1/64 tie.

The matrices are OpenCV's own (perspective.py), from the float32 corners that
`cv::boxPoints` gives, as MediaPipe's ImageToTensorCalculator computes them.
"""

from __future__ import annotations

import torch

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS
COEF_BITS = 15
BORDER_ZERO = "zero"
BORDER_REPLICATE = "replicate"


def warp_batch(images: torch.Tensor, sizes: torch.Tensor, index: torch.Tensor,
               mats: torch.Tensor, out_h: int, out_w: int, border: str) -> torch.Tensor:
    """Warp crops out of a padded image batch.

    images: uint8 [N, Hmax, Wmax, 3] (each image top-left aligned); sizes: int64 [N, 2] (h, w);
    index: int64 [K] image of each crop; mats: float64 [K, 3, 3] dst->src matrices.
    Returns uint8 [K, out_h, out_w, 3].
    """
    dev = images.device
    K = mats.shape[0]
    N, Hm, Wm, C = images.shape
    if K == 0:
        return torch.zeros((0, out_h, out_w, C), dtype=torch.uint8, device=dev)
    bh0 = min(16, out_h)
    bw0 = min((32 * 32) // bh0, out_w)
    xs = torch.arange(out_w, device=dev, dtype=torch.float64)
    ys = torch.arange(out_h, device=dev, dtype=torch.float64)
    xb = torch.div(torch.arange(out_w, device=dev), bw0, rounding_mode="floor") * bw0
    x1 = xs - xb.to(torch.float64)
    xb = xb.to(torch.float64)
    M = mats.to(dev, torch.float64)
    m = [M[:, i // 3, i % 3].view(K, 1, 1) for i in range(9)]
    Y = ys.view(1, out_h, 1)
    XB = xb.view(1, 1, out_w)
    X1 = x1.view(1, 1, out_w)
    X0 = (m[0] * XB + m[1] * Y) + m[2]
    Y0 = (m[3] * XB + m[4] * Y) + m[5]
    W0 = (m[6] * XB + m[7] * Y) + m[8]
    W = W0 + m[6] * X1
    W = torch.where(W != 0, INTER_TAB_SIZE / torch.where(W != 0, W, torch.ones_like(W)),
                    torch.zeros_like(W))
    lim = float(2 ** 31 - 1)
    fX = torch.clamp((X0 + m[0] * X1) * W, -lim - 1, lim)
    fY = torch.clamp((Y0 + m[3] * X1) * W, -lim - 1, lim)
    it = torch.int32 if N * Hm * Wm < 2 ** 31 else torch.int64
    Xi = torch.round(fX).to(torch.int64)  # round half to even, like cvRound/_mm_cvtpd_epi32
    Yi = torch.round(fY).to(torch.int64)
    sx = torch.clamp(Xi >> INTER_BITS, -32768, 32767).to(it)
    sy = torch.clamp(Yi >> INTER_BITS, -32768, 32767).to(it)
    ax = (Xi & (INTER_TAB_SIZE - 1)).to(torch.int32)
    ay = (Yi & (INTER_TAB_SIZE - 1)).to(torch.int32)
    # integer bilinear weights (exact multiples of 32, sum 2^15)
    wx0 = INTER_TAB_SIZE - ax
    wy0 = INTER_TAB_SIZE - ay
    scale = (1 << COEF_BITS) // (INTER_TAB_SIZE * INTER_TAB_SIZE)
    w00 = wy0 * wx0 * scale
    w01 = wy0 * ax * scale
    w10 = ay * wx0 * scale
    w11 = ay * ax * scale
    ih = sizes[index, 0].to(dev).to(it).view(K, 1, 1)
    iw = sizes[index, 1].to(dev).to(it).view(K, 1, 1)
    base = (index.to(dev) * (Hm * Wm)).to(it).view(K, 1, 1)
    flat = images.reshape(N * Hm * Wm, C)
    x0 = torch.minimum(torch.clamp(sx, min=0), iw - 1)
    x1c = torch.minimum(torch.clamp(sx + 1, min=0), iw - 1)
    y0 = torch.minimum(torch.clamp(sy, min=0), ih - 1)
    y1c = torch.minimum(torch.clamp(sy + 1, min=0), ih - 1)
    if border != BORDER_REPLICATE:  # BORDER_CONSTANT 0: out-of-image neighbours weigh nothing
        okx0 = (sx >= 0) & (sx < iw)
        okx1 = (sx + 1 >= 0) & (sx + 1 < iw)
        oky0 = (sy >= 0) & (sy < ih)
        oky1 = (sy + 1 >= 0) & (sy + 1 < ih)
        w00 = w00 * (oky0 & okx0).to(torch.int32)
        w01 = w01 * (oky0 & okx1).to(torch.int32)
        w10 = w10 * (oky1 & okx0).to(torch.int32)
        w11 = w11 * (oky1 & okx1).to(torch.int32)
    r0 = base + y0 * Wm
    r1 = base + y1c * Wm
    acc = None
    for idx, w in ((r0 + x0, w00), (r0 + x1c, w01), (r1 + x0, w10), (r1 + x1c, w11)):
        v = flat.index_select(0, idx.reshape(-1)).view(K, out_h, out_w, C).to(torch.int32)
        t = v * w.unsqueeze(-1)
        acc = t if acc is None else acc + t
    out = (acc + (1 << (COEF_BITS - 1))) >> COEF_BITS
    return torch.clamp(out, 0, 255).to(torch.uint8)
