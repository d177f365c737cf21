"""Side by side: the Numba conv/pooling kernels (numdl_kernels.cpu.conv, .pooling), their parts,
direct-convolution alternatives, and PyTorch CPU (torch.set_num_threads(2)), at the MNIST CNN's
shapes (batch 256: conv 1→16 28×28 k5 pad 2; conv 16→32 14×14 k5 pad 2; max/avg pool 2×2).

Usage::

    python tools/compare_conv_kernels.py [--rounds 15] [--dtype float32] [--parallel]

Every variant of one case runs in this process, interleaved round by round
(:func:`numdl.bench.timing.time_interleaved`), after a warm-up; figures are the minimum and
median over rounds, and ratios are against the first line of each group.
"""

from __future__ import annotations

import argparse

import numpy as np
from numba import njit

from numdl.bench.timing import time_interleaved
from numdl_kernels.cpu import conv, pooling


@njit(cache=True, nogil=True, error_model="numpy")
def direct_conv_s1(x, w, bias, ph, pw, relu, out):
    """Direct stride-1 cross-correlation, NCHW: out[b,f] = Σ_{c,i,j} w[f,c,i,j] x_pad[...]."""
    nb, nc, h_in, w_in = x.shape
    nf, _, kh, kw = w.shape
    oh_n, ow_n = out.shape[2], out.shape[3]
    zero = out.dtype.type(0)
    for b in range(nb):
        for f in range(nf):
            o = out[b, f]
            for oh in range(oh_n):
                for ow in range(ow_n):
                    o[oh, ow] = bias[f]
            for c in range(nc):
                xc = x[b, c]
                for i in range(kh):
                    oh_lo = max(ph - i, 0)
                    oh_hi = min(h_in + ph - i, oh_n)
                    for j in range(kw):
                        wv = w[f, c, i, j]
                        ow_lo = max(pw - j, 0)
                        ow_hi = min(w_in + pw - j, ow_n)
                        for oh in range(oh_lo, oh_hi):
                            src = xc[oh + i - ph]
                            dst = o[oh]
                            for ow in range(ow_lo, ow_hi):
                                dst[ow] += wv * src[ow + j - pw]
            if relu:
                for oh in range(oh_n):
                    for ow in range(ow_n):
                        v = o[oh, ow]
                        o[oh, ow] = zero if v <= zero else v


@njit(cache=True, nogil=True, error_model="numpy")
def direct_dx_s1(g, w, ph, pw, dx):
    """Direct stride-1 transposed conv: dx[b,c,h,w] = Σ_{f,i,j} w[f,c,i,j] g[b,f,h−i+ph,·]."""
    nb, nc, h_in, w_in = dx.shape
    nf, _, kh, kw = w.shape
    oh_n, ow_n = g.shape[2], g.shape[3]
    zero = dx.dtype.type(0)
    for b in range(nb):
        for c in range(nc):
            d = dx[b, c]
            for h in range(h_in):
                for x_ in range(w_in):
                    d[h, x_] = zero
            for f in range(nf):
                gf = g[b, f]
                for i in range(kh):
                    oh_lo = max(ph - i, 0)
                    oh_hi = min(h_in + ph - i, oh_n)
                    for j in range(kw):
                        wv = w[f, c, i, j]
                        ow_lo = max(pw - j, 0)
                        ow_hi = min(w_in + pw - j, ow_n)
                        for oh in range(oh_lo, oh_hi):
                            src = gf[oh]
                            dst = d[oh + i - ph]
                            for ow in range(ow_lo, ow_hi):
                                dst[ow + j - pw] += wv * src[ow]


def report(title: str, timings: dict, base: str) -> None:
    print(f"\n{title}")
    ref_min, ref_med = timings[base].min, timings[base].median
    for name, t in timings.items():
        print(
            f"  {name:<44} min {t.min * 1e3:8.3f} ms  median {t.median * 1e3:8.3f} ms"
            f"   ÷ first: {t.min / ref_min:5.2f} / {t.median / ref_med:5.2f}"
        )


def conv_case(name, b, c, hw, f, k, pad, dtype, rounds, torch, parallel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, c, hw, hw)).astype(dtype)
    w = (rng.standard_normal((f, c, k, k)) / np.sqrt(c * k * k)).astype(dtype)
    bias = (0.1 * rng.standard_normal(f)).astype(dtype)
    oh = hw + 2 * pad - k + 1
    p_rows, kk = b * oh * oh, c * k * k
    cols, z = np.empty((kk, p_rows), dtype), np.empty((f, p_rows), dtype)
    out = np.empty((b, f, oh, oh), dtype)
    st, pd = (1, 1), (pad, pad)
    conv.conv2d_forward(x, w, bias, st, pd, True, cols, z, out)
    grad = rng.standard_normal(out.shape).astype(dtype)
    dz, dcols = np.empty((f, p_rows), dtype), np.empty((kk, p_rows), dtype)
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(bias)
    out2 = np.empty_like(out)
    w2 = w.reshape(f, -1)
    masked = grad * (out > 0)
    dx2 = np.empty_like(x)
    im2col, fused_fwd = conv._IM2COL[0], conv._BIAS_ACT_NCHW[0]
    mask_pass, col2im = conv._MASK[0], conv._COL2IM[0]
    conv.conv2d_backward(grad, cols, w, out, st, pd, True, True, dz, dcols, dx, dw, db)
    # the same products in the (P, K) layout, for the layout comparison
    cols_pk, z_pk = np.ascontiguousarray(cols.T), np.empty((p_rows, f), dtype)
    dz_pk, dcols_pk = np.ascontiguousarray(dz.T), np.empty((p_rows, kk), dtype)

    fwd = {
        "numba conv2d_forward (im2col+GEMM+fused)": lambda: conv.conv2d_forward(
            x, w, bias, st, pd, True, cols, z, out
        ),
        "  im2col pass": lambda: im2col(x, k, k, 1, 1, pad, pad, cols, 1),
        "  GEMM z = W · cols (K, P layout)": lambda: np.matmul(w2, cols, out=z),
        "  GEMM z = cols · Wᵀ (P, K layout)": lambda: np.matmul(cols_pk, w2.T, out=z_pk),
        "  fused bias+ReLU+NCHW pass": lambda: fused_fwd(z, bias, True, out, 1),
        "direct conv (numba, stride 1)": lambda: direct_conv_s1(x, w, bias, pad, pad, True, out2),
        "  im2col pass, parallel flavour (2 blocks)": lambda: conv._IM2COL[1](
            x, k, k, 1, 1, pad, pad, cols, 2
        ),
        "  fused pass, parallel flavour (2 blocks)": lambda: conv._BIAS_ACT_NCHW[1](
            z, bias, True, out, 2
        ),
    }
    bwd = {
        "numba conv2d_backward (with dx)": lambda: conv.conv2d_backward(
            grad, cols, w, out, st, pd, True, True, dz, dcols, dx, dw, db
        ),
        "  mask pass": lambda: mask_pass(grad, out, True, dz, 1),
        "  db = row sums of dz (np.sum)": lambda: np.sum(dz, axis=1, out=db),
        "  GEMM dw = dz · colsᵀ (K, P layout)": lambda: np.matmul(
            dz, cols.T, out=dw.reshape(f, -1)
        ),
        "  GEMM dw = dzᵀ · cols (P, K layout)": lambda: np.matmul(
            dz_pk.T, cols_pk, out=dw.reshape(f, -1)
        ),
        "  GEMM dcols = Wᵀ · dz (K, P layout)": lambda: np.matmul(w2.T, dz, out=dcols),
        "  GEMM dcols = dz · W (P, K layout)": lambda: np.matmul(dz_pk, w2, out=dcols_pk),
        "  col2im pass": lambda: col2im(dcols, k, k, 1, 1, pad, pad, dx, 1),
        "dx: dcols GEMM + col2im": lambda: (
            np.matmul(w2.T, dz, out=dcols),
            col2im(dcols, k, k, 1, 1, pad, pad, dx, 1),
        ),
        "dx: direct transposed conv (numba)": lambda: direct_dx_s1(masked, w, pad, pad, dx2),
        "  col2im pass, parallel flavour (2 blocks)": lambda: conv._COL2IM[1](
            dcols, k, k, 1, 1, pad, pad, dx, 2
        ),
        "  mask pass, parallel flavour (2 blocks)": lambda: conv._MASK[1](grad, out, True, dz, 2),
    }
    if not parallel:  # their spinning workers would slow the GEMMs timed beside them
        for group in (fwd, bwd):
            for key in [key for key in group if "parallel" in key]:
                del group[key]
    if torch is not None:
        F = torch.nn.functional
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, bias))
        fwd["torch F.conv2d + relu"] = lambda: F.relu(F.conv2d(tx, tw, tb, padding=pad))
        txg = tx.clone().requires_grad_(True)
        twg, tbg = tw.clone().requires_grad_(True), tb.clone().requires_grad_(True)
        ty = F.relu(F.conv2d(txg, twg, tbg, padding=pad))
        tg = torch.from_numpy(grad)
        bwd["torch autograd (dx, dw, db)"] = lambda: torch.autograd.grad(
            ty, (txg, twg, tbg), tg, retain_graph=True
        )
    # the direct variants compute the same numbers
    direct_conv_s1(x, w, bias, pad, pad, True, out2)
    conv.conv2d_forward(x, w, bias, st, pd, True, cols, z, out)
    conv.conv2d_backward(grad, cols, w, out, st, pd, True, True, dz, dcols, dx, dw, db)
    direct_dx_s1(masked, w, pad, pad, dx2)
    print(f"\n== {name}: x {x.shape}, w {w.shape}, {np.dtype(dtype).name}")
    print(
        f"  max |direct − im2col|: forward {np.abs(out2 - out).max():.2e},"
        f" dx {np.abs(dx2 - dx).max():.2e}"
    )
    report("forward", time_interleaved(fwd, rounds, 0.05), next(iter(fwd)))
    report("backward", time_interleaved(bwd, rounds, 0.05), next(iter(bwd)))


def pool_case(name, b, c, hw, dtype, rounds, torch, parallel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, c, hw, hw)).astype(dtype)
    o = hw // 2
    out, argmax = np.empty((b, c, o, o), dtype), np.empty((b, c, o, o), np.int64)
    grad = rng.standard_normal(out.shape).astype(dtype)
    dx = np.empty_like(x)
    k = s = (2, 2)
    p = (0, 0)
    fns = {
        "numba maxpool2d_forward": lambda: pooling.maxpool2d_forward(x, k, s, p, out, argmax),
        "numba maxpool2d_backward": lambda: pooling.maxpool2d_backward(grad, argmax, dx),
        "numba avgpool2d_forward": lambda: pooling.avgpool2d_forward(x, k, s, p, out),
        "numba avgpool2d_backward": lambda: pooling.avgpool2d_backward(grad, k, s, p, dx),
        "parallel maxpool2d_forward": lambda: pooling._MAXPOOL[1](
            x, 2, 2, 2, 2, 0, 0, out, argmax, 2
        ),
        "parallel maxpool2d_backward": lambda: pooling._MAXPOOL_BACKWARD[1](grad, argmax, dx, 2),
        "parallel avgpool2d_forward": lambda: pooling._AVGPOOL[1](x, 2, 2, 2, 2, 0, 0, out, 2),
        "parallel avgpool2d_backward": lambda: pooling._AVGPOOL_BACKWARD[1](
            grad, 2, 2, 2, 2, 0, 0, dx, 2
        ),
    }
    if not parallel:
        for key in [key for key in fns if key.startswith("parallel")]:
            del fns[key]
    if torch is not None:
        F = torch.nn.functional
        tx = torch.from_numpy(x)
        fns["torch max_pool2d (indices)"] = lambda: F.max_pool2d(tx, 2, return_indices=True)
        txg = tx.clone().requires_grad_(True)
        tm = F.max_pool2d(txg, 2)
        ta = F.avg_pool2d(txg, 2)
        tg = torch.from_numpy(grad)
        fns["torch max_pool2d backward"] = lambda: torch.autograd.grad(
            tm, txg, tg, retain_graph=True
        )
        fns["torch avg_pool2d"] = lambda: F.avg_pool2d(tx, 2)
        fns["torch avg_pool2d backward"] = lambda: torch.autograd.grad(
            ta, txg, tg, retain_graph=True
        )
    print(f"\n== {name}: x {x.shape}, 2×2 stride 2, {np.dtype(dtype).name}")
    t = time_interleaved(fns, rounds, 0.05)
    for op in (
        "maxpool2d_forward",
        "maxpool2d_backward",
        "avgpool2d_forward",
        "avgpool2d_backward",
    ):
        torch_name = {
            "maxpool2d_forward": "torch max_pool2d (indices)",
            "maxpool2d_backward": "torch max_pool2d backward",
            "avgpool2d_forward": "torch avg_pool2d",
            "avgpool2d_backward": "torch avg_pool2d backward",
        }[op]
        sub = {key: t[key] for key in (f"numba {op}", f"parallel {op}") if key in t}
        if torch_name in t:
            sub[torch_name] = t[torch_name]
        report(op, sub, f"numba {op}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--parallel", action="store_true", help="also time the passes' parallel flavours"
    )
    args = parser.parse_args()
    torch = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(2)
        except ImportError:
            torch = None
    dt = np.dtype(args.dtype)
    conv_case("conv1", 256, 1, 28, 16, 5, 2, dt, args.rounds, torch, args.parallel)
    conv_case("conv2", 256, 16, 14, 32, 5, 2, dt, args.rounds, torch, args.parallel)
    pool_case("pool1", 256, 16, 28, dt, args.rounds, torch, args.parallel)
    pool_case("pool2", 256, 32, 14, dt, args.rounds, torch, args.parallel)


if __name__ == "__main__":
    main()
