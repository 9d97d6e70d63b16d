"""Exact, stable, differentiable deep-linear-network mode dynamics.

A balanced deep linear network with ``D = depth`` weight matrices learns the strength ``u`` of one input-output
mode (singular value ``s``) along

    tau du/dt = D u^(2 - 2/D) (s - u).

This module gives

* :func:`deep_mode_time` -- the time to go from ``u0`` to ``uf``,
  ``t = tau/D * int_{u0}^{uf} dv / (v^(2-2/D) (s - v))``, in exact closed form for every integer ``D``;
* :func:`deep_mode_trajectory` -- its inverse ``u(t)``, by a vectorised safeguarded Newton solve with gradients
  attached by the implicit function theorem;
* :func:`deep_mode_time_mp` -- an independent mpmath reference (2F1 / quadrature) for tests.

Notation: ``w = u/s``, ``y = w^(1/D)``, ``a = 2 - 2/D``, ``e = 2/D - 1`` and the dimensionless time ``I`` with
``t = tau s^(-a) I``.

Closed form.  With ``v = s y^D``,

    I = int_{y0}^{yf} dy / (y^(D-1) (1 - y^D)),   1/(y^(D-1)(1-y^D)) = y^(1-D) + y/(1 - y^D),

* ``int y^(1-D) dy = y0^(2-D) expm1((2-D) L)/(2-D)`` (``= L`` for ``D = 2``), ``L = ln(yf/y0) = ln(uf/u0)/D``;
* for ``D >= 2`` the partial fractions ``y/(1-y^D) = -(1/D) sum_k w_k^2/(y - w_k)``, ``w_k = exp(2 pi i k/D)``,
  give ``-(1/D) sum_k w_k^2 log(1 + Delta/(y0 - w_k))``, ``Delta = yf - y0`` (``y0 expm1(L)`` for close ends);
  ``k = 0`` gives ``-(1/D) log((1-yf)/(1-y0))`` (``log1p(-Delta/(1-y0))`` when the ratio is near 1, ``1 - y``
  from ``-expm1(ln w / D)`` with ``ln w`` from ``log1p((u - s)/s)`` next to ``s``), ``k = D/2`` (even ``D``)
  ``-(1/D) log1p(Delta/(y0+1))``, and each conjugate pair ``k, D-k`` (vectorised over ``k``) ``2 Re``, with
  ``ln|1+z|^2 = log1p(Delta (y0 + yf - 2 cos th)/|y0 - w|^2)`` (or ``ln(|yf - w|^2/|y0 - w|^2)`` when that
  argument is not small), ``arg(1+z) = atan2(Delta sin th, (y0 - cos th)(yf - cos th) + sin^2 th)`` and
  ``y - cos th = 2 sin^2(th/2) - (1 - y)``, so that no step cancels;
* ``D = 1``: the ``y^0`` term and the improper part of ``y/(1-y)`` cancel exactly: ``t = tau ln((s-u0)/(s-uf))``.

Above the target (``u0 > s``) the two terms have opposite signs and cancel by a factor of about ``w``; there the
integral over ``w >= 2`` is taken from the convergent series (``p = 1/w <= 1/2``, all terms positive)

    int_{w_e}^{w_s} dw / (w^a (w - 1)) = w_e^(-a) sum_j p_e^j (1 - exp(-(j+a) lam)) / (j+a),  lam = ln(w_s/w_e),

with the factor ``s^(-a) w_e^(-a)`` attached as ``u_e^(-a)`` (so that ``dt/ds``, small there, is not a difference
of large terms); the partial-fraction form is used only on ``1 < w <= 4`` (an interval with ``w_e < 2 < 4 < w_s``
is split at ``w = 2``).

Numerical contract (measured against mpmath at 50 digits, see ``tests/test_deep_mode_numerics.py``): the value of
``deep_mode_time`` and its gradients to a few ulps (worst seen 6e-15 relative) over ``s`` in 1e-3..1e3,
``u0/s`` down to 1e-12 (and far smaller) and up to 1e12, ``uf`` within 1e-12 relative of ``s`` or of ``u0``,
``D`` = 1..1000.  ``deep_mode_trajectory`` is backward stable (exact for a time within a few ulps of ``t``): its
value and gradients are within a few ulps times ``1 + kappa``, ``kappa = |t du/dt / u|`` (``kappa (2 + u/|s-u|)``
for the gradients).  ``kappa`` is of order 1 except from a tiny start at ``D > 2`` (where the time to reach ``u``
hardly depends on ``u``: ``kappa ~ (u/u0)^(1-2/D)``), where no float64 method can do better.
"""

from __future__ import annotations

import math

import torch

__all__ = ["deep_mode_time", "deep_mode_trajectory", "deep_mode_time_mp"]

_LN2 = math.log(2.0)
_LN4 = math.log(4.0)
_SERIES_TERMS = 56  # 2^-56 ~ 1.4e-17: every series term ratio is <= p_e^j <= 2^-j
_Z_CAP = 60.0  # z = ln(u/|s-u|) beyond which u == s in float64 (|s-u|/s < 1e-26)
_MAX_ITER = 100


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: must be an int >= 1")
    return depth


class _Expm1Fn(torch.autograd.Function):
    """expm1 whose derivative is exp(x) (torch's backward forms expm1(x) + 1, which loses all digits of e^x for
    x << 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.expm1(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.exp(x)


class _SigmoidFn(torch.autograd.Function):
    """sigmoid whose derivative is sigmoid(x) sigmoid(-x) (torch's s (1 - s) loses 1 - s for x >> 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x) * torch.sigmoid(-x)


def _expm1(x: torch.Tensor) -> torch.Tensor:
    return _Expm1Fn.apply(x)


def _log_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """ln(a/b) for a, b > 0; relative accuracy kept where a ~ b (log1p of the exactly formed a - b)."""
    d = (a - b) / b
    near = d.abs() < 0.5
    d_safe = torch.where(near, d, torch.zeros_like(d))
    return torch.where(near, torch.log1p(d_safe), torch.log(a / b))


def _pf(lnw_s: torch.Tensor, lnw_e: torch.Tensor, lr: torch.Tensor, D: int) -> torch.Tensor:
    """int_{y_s}^{y_e} dy / (y^(D-1) (1 - y^D)), y = w^(1/D), by the exact partial-fraction closed form.

    ``lnw_s``, ``lnw_e``: ln w at start and end (both on the same side of 0); ``lr = lnw_e - lnw_s`` computed
    accurately by the caller.
    """
    L = lr / D
    om_s = -_expm1(lnw_s / D)  # 1 - y_s (relative accuracy)
    om_e = -_expm1(lnw_e / D)
    y_s = torch.exp(lnw_s / D)
    # Delta = y_e - y_s: y_s expm1(L) for close ends (relative accuracy), y_e - y_s for distant ones (then the
    # gradient with respect to one end does not come as a difference of two large terms)
    close = L.abs() < _LN2
    delta = torch.where(close, y_s * _expm1(torch.where(close, L, torch.zeros_like(L))),
                        torch.exp(lnw_e / D) - y_s)
    # k = 0: log((1 - y_e)/(1 - y_s)); ratio > 0 always
    r = om_e / om_s
    near = (r > 0.5) & (r < 2.0)
    x0 = torch.where(near, -delta / om_s, torch.zeros_like(delta))
    b0 = torch.where(near, torch.log1p(x0), torch.log(torch.where(near, torch.ones_like(r), r)))
    if D == 1:
        return -b0
    # int y^(1-D) dy = y_s^(2-D) expm1((2-D) L)/(2-D) (= L for D = 2); expm1 keeps value and gradient exact
    if D == 2:
        first = L
    else:
        first = torch.exp((2.0 - D) / D * lnw_s) * _expm1((2.0 - D) * L) / (2.0 - D)
    total = first - b0 / D
    if D % 2 == 0:  # w = -1
        total = total - torch.log1p(delta / (y_s + 1.0)) / D
    K = (D - 1) // 2
    if K > 0:
        total = total - _pair_sum(om_s, om_e, delta, D, K) / D
    return total


_PAIR_BLOCK_ELEMS = 1 << 22  # elements per block of the k-sum (bounds temporaries to ~32 MB each in float64)


def _pair_sum(om_s, om_e, delta, D: int, K: int) -> torch.Tensor:
    """sum_{k=1}^{K} 2 Re(w_k^2 log(1 + Delta/(y_s - w_k))), w_k = exp(2 pi i k/D), without cancellation;
    vectorised over k in blocks (largest k, the smallest terms, first)."""
    dt, dev = om_s.dtype, om_s.device
    oms, ome, dl = om_s.unsqueeze(-1), om_e.unsqueeze(-1), delta.unsqueeze(-1)
    n = max(1, om_s.numel())
    block = max(1, min(K, _PAIR_BLOCK_ELEMS // n))
    out = torch.zeros_like(om_s)
    for hi in range(K, 0, -block):
        k = torch.arange(max(1, hi - block + 1), hi + 1, dtype=torch.float64, device=dev)
        th = (2.0 * math.pi / D) * k
        s2 = (2.0 * torch.sin(0.5 * th) ** 2).to(dt)  # 1 - cos th
        sn = torch.sin(th).to(dt)
        c2 = torch.cos(2.0 * th).to(dt)
        sn2 = torch.sin(2.0 * th).to(dt)
        a_s = s2 - oms  # y_s - cos th
        a_e = s2 - ome  # y_e - cos th
        sn_sq = sn * sn
        m_s = a_s * a_s + sn_sq  # |y_s - w|^2
        m_e = a_e * a_e + sn_sq  # |y_e - w|^2
        q = dl * (2.0 * s2 - oms - ome) / m_s  # |1+z|^2 - 1
        qnear = q.abs() < 0.5
        q_safe = torch.where(qnear, q, torch.zeros_like(q))
        ratio_safe = torch.where(qnear, torch.ones_like(q), m_e / m_s)
        lnmod2 = torch.where(qnear, torch.log1p(q_safe), torch.log(ratio_safe))  # ln|1+z|^2
        arg = torch.atan2(dl * sn, a_s * a_e + sn_sq)  # arg(1+z)
        terms = c2 * lnmod2 - 2.0 * sn2 * arg  # 2 Re(w^2 log(1+z))
        out = out + terms.flip(-1).sum(-1)
    return out


def _series(lnw_e: torch.Tensor, lam: torch.Tensor, D: int) -> torch.Tensor:
    """``J = w_e^a (1/D) int_{w_e}^{w_e e^lam} dw / (w^a (w - 1))`` for ``w_e >= 2``, ``lam >= 0``:
    ``(1/D) sum_j p^j (1 - exp(-(j+a) lam))/(j+a)``, ``p = 1/w_e <= 1/2`` (positive terms, ratio <= 2^-j)."""
    a = 2.0 - 2.0 / D
    j = torch.arange(_SERIES_TERMS - 1, -1, -1, dtype=lnw_e.dtype, device=lnw_e.device)  # small terms first
    ja = j + a
    le = lnw_e.unsqueeze(-1)
    la = lam.unsqueeze(-1)
    terms = torch.exp(-j * le) * (-_expm1(-ja * la)) / ja
    return terms.sum(-1) / D


def _integral_parts(lnw_s, lnw_e, lr, D: int, above):
    """Dimensionless time ``I = I_pf + exp(-a ln w_ser) J`` (``t = tau s^(-a) I``) from ``w_s`` to ``w_e``.

    ``lr = ln(w_e/w_s)`` accurate; ``above``: w > 1.  Returns ``(I_pf, J, series_only, split)``: ``J`` is the series
    part scaled to its own end ``w_ser`` (``w_e`` where ``series_only``, 2 where ``split``), so that the caller can
    attach the factor ``u_ser^(-a)`` in absolute units, where ``t`` hardly depends on ``s``.
    """
    if D == 1:
        return _pf(lnw_s, lnw_e, lr, D), None, None, None
    ln2 = torch.full_like(lnw_s, _LN2)
    zero = torch.zeros_like(lnw_s)
    series_only = above & (lnw_e >= _LN2)
    split = above & (lnw_s > _LN4) & (lnw_e < _LN2)
    pf_s = torch.where(split | series_only, ln2, lnw_s)
    pf_e = torch.where(series_only, ln2, lnw_e)
    pf_lr = torch.where(split, lnw_e - ln2, torch.where(series_only, zero, lr))
    I_pf = _pf(pf_s, pf_e, pf_lr, D)
    if not bool((series_only | split).any()):
        return I_pf, None, None, None
    ser_e = torch.where(series_only, lnw_e, ln2)
    ser_lam = torch.where(split, lnw_s - ln2, torch.where(series_only, -lr, zero))
    return I_pf, _series(ser_e, ser_lam, D), series_only, split


def _integral(lnw_s, lnw_e, lr, D: int, above) -> torch.Tensor:
    """Dimensionless time I (t = tau s^(-a) I); see :func:`_integral_parts`."""
    I_pf, J, series_only, _ = _integral_parts(lnw_s, lnw_e, lr, D, above)
    if J is None:
        return I_pf
    a = 2.0 - 2.0 / D
    return I_pf + torch.exp(-a * torch.where(series_only, lnw_e, torch.full_like(lnw_e, _LN2))) * J


def _time_core(s, u0, uf, gap, tau, D: int) -> torch.Tensor:
    """``deep_mode_time`` with the end point given twice: ``uf`` and ``gap = s - uf``.  ``gap`` is used wherever
    ``uf`` is next to ``s`` (``|gap| < s/2``), so it may carry more digits than ``fl(s - uf)`` (the trajectory
    passes the gap of its exact solution); elsewhere only ``uf`` is used."""
    d0 = s - u0
    near_e = gap.abs() < 0.5 * s
    # uf - u0: from the gaps where both ends are next to s (s - u0 is exact there), else from the floats; its
    # gradient is that of uf - u0 (through d0 - gap, autograd would add +-ds contributions that cancel only up to
    # rounding of the large terms they are accumulated with)
    diff_f = uf - u0
    diff = torch.where(near_e & (d0.abs() < 0.5 * s), diff_f + ((d0 - gap) - diff_f).detach(), diff_f)
    if D == 1:  # tau ln((s - u0)/(s - uf))
        x = -diff / d0
        near = x.abs() < 0.5
        r_safe = torch.where(near, torch.ones_like(x), gap / d0)
        return -tau * torch.where(near, torch.log1p(torch.where(near, x, torch.zeros_like(x))), torch.log(r_safe))
    a = 2.0 - 2.0 / D
    lnw0 = _log_ratio(u0, s)
    lnwf = torch.where(near_e, torch.log1p(torch.where(near_e, -gap / s, torch.zeros_like(gap))), torch.log(uf / s))
    dr = diff / u0
    nr = dr.abs() < 0.5
    lr = torch.where(nr, torch.log1p(torch.where(nr, dr, torch.zeros_like(dr))), torch.log(uf / u0))
    I_pf, J, series_only, _ = _integral_parts(lnw0, lnwf, lr, D, u0 > s)
    t = torch.pow(s, -a) * I_pf
    if J is not None:
        # s^(-a) w_ser^(-a) = u_ser^(-a) with u_ser = uf or 2 s: t hardly depends on s there, and its derivative
        # with respect to s does not come as a difference of two large terms
        t = t + torch.pow(torch.where(series_only, uf, 2.0 * s), -a) * J
    return tau * t


def deep_mode_time(s: torch.Tensor, u0: torch.Tensor, uf: torch.Tensor, tau: torch.Tensor, depth: int) -> torch.Tensor:
    """Time for ``tau du/dt = D u^(2-2/D) (s - u)`` to take ``u`` from ``u0`` to ``uf``.

    ``t = tau/D * int_{u0}^{uf} dv / (v^(2-2/D) (s - v))``.  Domain (not checked here): ``s > 0``, ``u0 > 0``,
    ``tau > 0``, ``uf`` strictly between ``u0`` and ``s`` (``u0 > s`` allowed: then ``s < uf < u0``), ``depth`` an
    int ``>= 1``.  Tensors broadcast; the result keeps their dtype and device; differentiable (value and gradient
    with respect to every argument accurate to a few ulps relative).
    """
    D = _check_depth(depth)
    s, u0, uf, tau = torch.broadcast_tensors(s, u0, uf, tau)
    return _time_core(s, u0, uf, s - uf, tau, D)


# ----------------------------------------------------------------------------------------------------------------
# inverse: u(t)


def _lnw_of_z(z: torch.Tensor, above: torch.Tensor) -> torch.Tensor:
    """ln w for w = sigmoid(z) (below) or w = 1/(1 - e^-z) (above, z > 0); accurate relative near 0."""
    pos = z > 0
    zp = torch.where(pos, z, torch.zeros_like(z))
    zn = torch.where(pos, torch.zeros_like(z), z)
    below_v = torch.where(pos, -torch.log1p(torch.exp(-zp)), zn - torch.log1p(torch.exp(zn)))
    big = z > _LN2
    zb = torch.where(big, z, torch.full_like(z, 2.0 * _LN2))
    zs = torch.where(big | (z <= 0), torch.ones_like(z), z)
    above_v = torch.where(big, -torch.log1p(-torch.exp(-zb)), -torch.log(-_expm1(-zs)))
    return torch.where(above, above_v, below_v)


def _w_of_z(z: torch.Tensor, above: torch.Tensor) -> torch.Tensor:
    zs = torch.where(above & (z > 0), z, torch.ones_like(z))
    return torch.where(above, -1.0 / _expm1(-zs), _SigmoidFn.apply(z))


def _z_of_lnw(lnw: torch.Tensor) -> torch.Tensor:
    """z = ln(w/|1-w|) from ln w (lnw != 0), without cancellation: -log1p(-1/w) for w > 2."""
    big = lnw > _LN2
    safe = torch.where((lnw == 0) | big, torch.ones_like(lnw), lnw)
    lb = torch.where(big, lnw, torch.ones_like(lnw))
    return torch.where(big, -torch.log1p(-torch.exp(-lb)), safe - torch.log(_expm1(safe).abs()))


def _newton_update(z, lo, hi, theta, lnw0, above, D: int):
    """One safeguarded Newton update on active points; returns (z_new, lo, hi, converged)."""
    e = 2.0 / D - 1.0
    a = 2.0 - 2.0 / D
    eps = torch.finfo(z.dtype).eps
    lnw = _lnw_of_z(z, above)
    I = _integral(lnw0, lnw, lnw - lnw0, D, above)
    res = I - theta
    lo = torch.where(res < 0, z, lo)
    hi = torch.where(res > 0, z, hi)
    om = -_expm1(lnw)  # 1 - w (= dlnw/dz)
    x = D * res * torch.exp(-e * lnw)  # Newton step in z is -x (dI/dz = w^e / D)
    z_newton = z - x
    # Far from s (|ln w| > ln 2) I is nearly linear in g = w^-c/c (c = 1 - 2/D below, 2 - 2/D above; ln w for
    # c = 0): Newton step in g, written as a step in ln w.
    far = lnw.abs() > _LN2
    xg = x * om  # the z-step expressed in ln w, to first order
    c = torch.where(above, torch.full_like(z, a), torch.full_like(z, -e))
    arg = c * xg
    gok = arg > -0.9
    c_safe = torch.where(c == 0, torch.ones_like(c), c)
    dlg = torch.where(c == 0, xg, torch.log1p(torch.where(gok, arg, torch.zeros_like(arg))) / c_safe)
    lnw_g = lnw - dlg
    # a g-step toward s that leaves the far region (or the model) stops at its edge |ln w| = ln 2
    toward = res < 0
    edge = torch.where(above, torch.full_like(z, _LN2), torch.full_like(z, -_LN2))
    leaves = toward & (~gok | (lnw_g.abs() < _LN2) | torch.where(above, lnw_g <= 0, lnw_g >= 0))
    lnw_g = torch.where(leaves, edge, lnw_g)
    gok = gok | leaves
    z_g = _z_of_lnw(torch.where(gok, lnw_g, lnw))
    use_g = far & gok
    z_new = torch.where(use_g, z_g, z_newton)
    # natural scale of z: |dlnw/dz| = |1 - w|, so |z| + min(1, 1/|1 - w|) measures a relative change of u
    zscale = z.abs() + torch.minimum(torch.ones_like(om), 1.0 / om.abs())
    step_small = torch.where(use_g, (dlg.abs() <= 1e-11) & ~leaves, (z_new - z).abs() <= 1e-11 * zscale)
    step_small = step_small & torch.isfinite(z_new)
    # |res| at the rounding level of I: z is a backward-stable root (exact for t(1 + O(eps)))
    noise = res.abs() <= 4 * eps * theta
    inside = (z_new > lo) & (z_new < hi) & torch.isfinite(z_new)
    # a Newton target just past a bracket end (root within rounding of that end): converged there
    at_edge = ~inside & ~(use_g & leaves) & torch.isfinite(z_new) & (
        ((z_new <= lo) & (lo - z_new <= 1e-11 * zscale)) | ((z_new >= hi) & (z_new - hi <= 1e-11 * zscale)))
    step_small = step_small | at_edge
    z_new = torch.where(inside, z_new,
                        torch.where(step_small | noise, torch.minimum(torch.maximum(z_new, lo), hi), 0.5 * (lo + hi)))
    z_new = torch.where((res == 0) | (noise & ~inside), z, z_new)
    converged = step_small | noise | ((hi - lo) <= 4 * eps * zscale)
    return z_new, lo, hi, converged


def _solve_z(theta, lnw0, z0, above, D: int, lo, hi):
    """Safeguarded Newton for I(lnw0, lnw(z)) = theta on the bracket [lo, hi] (no autograd); each iteration works
    on the points not yet converged only.  Returns (z, iterations)."""
    shape = z0.shape
    theta, lnw0, z0, above, lo, hi = (x.reshape(-1) for x in (theta, lnw0, z0, above, lo, hi))
    done = theta == 0
    # start: geometric mean of the distances of the bracket ends from z0
    z = z0 + torch.sqrt((lo - z0).clamp_min(0) * (hi - z0).clamp_min(0))
    z = torch.where(done, z0, torch.where((z > lo) & (z < hi), z, 0.5 * (lo + hi)))
    lo, hi = lo.clone(), hi.clone()
    it = 0
    while True:
        act = (~done).nonzero().squeeze(-1)
        if act.numel() == 0:
            return z.reshape(shape), it
        if it >= _MAX_ITER:
            raise RuntimeError(f"deep_mode_trajectory: Newton solve did not converge in {_MAX_ITER} iterations "
                               f"({act.numel()} points, first flat indices {act[:5].tolist()})")
        it += 1
        z_a, lo_a, hi_a, conv = _newton_update(z[act], lo[act], hi[act], theta[act], lnw0[act], above[act], D)
        z[act], lo[act], hi[act] = z_a, lo_a, hi_a
        done[act] = conv


def deep_mode_trajectory(t: torch.Tensor, s: torch.Tensor, u0: torch.Tensor, tau: torch.Tensor, depth: int,
                         *, return_iterations: bool = False):
    """Mode strength ``u(t)`` solving ``tau du/dt = D u^(2-2/D) (s - u)``, ``u(0) = u0`` (inverse of
    :func:`deep_mode_time`).

    Domain (not checked here): ``t >= 0``, ``s, u0, tau > 0``, ``depth`` an int ``>= 1``; ``u0 = s`` gives
    ``u = s``; ``u0 > s`` decreases toward ``s``.  Tensors broadcast; the result keeps their dtype and device.

    Solved in ``z = ln(u/|s-u|)`` (in which ``t`` is monotone and, near ``s``, linear) by a bracketed Newton
    iteration on the points not yet converged: exact initial bracket from bounds of the integrand, steps in ``z``
    near ``s`` and in ``w^(1-2/D)`` (below) or ``w^(2/D-2)`` (above) far from it, where ``t`` is nearly linear in
    those, bisection where a step leaves the bracket; it stops when a Newton step is below ``1e-11`` of the
    natural scale, or the residual is at the rounding level of ``t`` (backward-stable root), or the bracket has
    collapsed to rounding, and raises ``RuntimeError`` after 100 iterations (typically 1 to 9 are used).  One
    Newton step on the accurate residual polishes the root (next to ``s`` in the gap ``s - u``, carried to more
    digits than ``fl(s - u)``), and gradients with respect to ``t, s, u0, tau`` come from one implicit-function
    step ``u - (T(u) - t)/T_u`` with ``T`` as in :func:`deep_mode_time`.  ``t = 0`` returns ``u0`` exactly; ``t``
    past ~60 relaxation times returns ``s`` exactly (``du/ds = 1``, other derivatives ~0).  Second derivatives are
    not supported.  With ``return_iterations=True`` returns ``(u, iterations)``.
    """
    D = _check_depth(depth)
    t, s, u0, tau = torch.broadcast_tensors(t, s, u0, tau)
    a = 2.0 - 2.0 / D
    e = 2.0 / D - 1.0
    eq = u0 == s
    above = u0 > s
    # stand-in start for u0 == s (handled exactly below)
    u0_eff = torch.where(eq, 0.5 * s, u0)
    with torch.no_grad():
        sd, u0d, td, taud = s.detach(), u0_eff.detach(), t.detach(), tau.detach()
        lnw0 = _log_ratio(u0d, sd)
        z0 = _z_of_lnw(lnw0)
        theta = td * torch.pow(sd, a) / taud
        # exact bracket from the integrand w^e of the z-form bounded by its end values
        f0 = torch.exp(-e * lnw0)  # w0^-e
        lo = z0 + D * theta * torch.minimum(f0, torch.ones_like(f0))
        hi_b = z0 + D * theta * torch.maximum(f0, torch.ones_like(f0))
        lo = torch.minimum(lo, hi_b)
        zc = torch.full_like(z0, _Z_CAP)
        cap_I = _integral(lnw0, _lnw_of_z(zc, above), _lnw_of_z(zc, above) - lnw0, D, above)
        capped = theta >= cap_I
        hi = torch.minimum(hi_b, zc)
        lo = torch.minimum(lo, hi)
        # widen by a few ulps so rounding in the bounds cannot exclude the root
        ep8 = 8 * torch.finfo(lo.dtype).eps
        lo = torch.maximum(lo - ep8 * (lo.abs() + torch.minimum(torch.ones_like(lo), lo.abs())), z0)
        hi = hi + ep8 * (hi.abs() + torch.minimum(torch.ones_like(hi), hi.abs()))
        th_solve = torch.where(capped, torch.zeros_like(theta), theta)
        z_star, iters = _solve_z(th_solve, lnw0, torch.where(capped, zc, z0), above, D, lo, hi)
        z_star = torch.where(capped, zc, z_star)
        z_star = torch.where(theta == 0, z0, z_star)
    # Implicit-function step: the value is the (polished) root, the gradient -(dG/dparam)/(dG/du) with
    # G = T(s, u0, u, tau) - t, T as in deep_mode_time, whose gradients are accurate to a few ulps relative (also
    # where they are small: du/ds near t = 0, du/du0 near s).  Next to s the root is carried as its gap s - u, to
    # more digits than fl(s - u) has, so that everything proportional to s - u (du/dt, du/du0, du/dtau) is
    # accurate at the true root, not only at its rounding.  Past the cap (u = s to ~1e-26) the variable is z.
    with torch.no_grad():
        sd, taud, td = s.detach(), tau.detach(), t.detach()
        zs = torch.where(capped, z0 + 2.0, z_star)
        zsa = torch.where(above & (zs > 0), zs, torch.ones_like(zs))
        gap_z = torch.where(above, -sd / _expm1(zsa), sd * torch.sigmoid(-zs))  # s - u, accurate
        near_s = gap_z.abs() < 0.5 * sd
        u_var = torch.where(near_s, sd - gap_z, sd * _w_of_z(zs, above))
        gap = torch.where(near_s, gap_z, sd - u_var)
        # polish: one Newton step on the accurate residual (in the gap next to s, in u elsewhere)
        T0 = _time_core(sd, u0d, u_var, gap, taud, D)
        step = (T0 - td) * (D * torch.pow(u_var, a) * gap) / taud  # (T - t)/T_u
        gap_p = torch.where(near_s, gap + step, sd - (u_var - step))
        u_p = torch.where(near_s, sd - gap_p, u_var - step)
        keep = torch.isfinite(gap_p) & torch.isfinite(u_p) & (gap_p * gap > 0) & (u_p > 0)
        u_var = torch.where(keep, u_p, u_var)
        gap = torch.where(keep, gap_p, gap)
        delta = (sd - u_var) - gap  # what the gap knows beyond fl(s - u)
    gap_t = (s - u_var) - delta  # value: the accurate gap; d/ds = 1 at fixed u
    T = _time_core(s, u0_eff, u_var, gap_t, tau, D)
    # dT/du, attached to tau only: then du/dtau = -(t/tau)/T_u exactly (also where u rounds to u0); attaching it
    # to s too would add (T - t) d(T_u)/ds / T_u^2, rounding noise amplified by 1/(s - u) near s
    T_u = tau * (1.0 / (D * torch.pow(u_var, a) * gap)).detach()
    u_a = u_var - (T - t) / T_u
    u_a = u_var + (u_a - u_a.detach())  # value: the polished root; gradient: implicit function theorem
    # capped (t far past the time scale): Newton step in z from the cap; u = s, du/ds = 1, the rest ~ 0
    u = u_a
    if bool(capped.any()):
        lnw0g = _log_ratio(u0_eff, s)
        theta_g = t * torch.pow(s, a) / tau
        z_c = torch.where(capped, z_star, z0 + 2.0)
        lnwz = _lnw_of_z(z_c, above)
        I_c = _integral(lnw0g, lnwz, lnwz - lnw0g, D, above)
        dIdz = (torch.exp(e * lnwz) / D).detach()
        z = z_c - (I_c - theta_g) / dIdz
        u = torch.where(capped, s * _w_of_z(z, above), u_a)
    # t == 0: exactly u0, with the gradient of the solve
    u = torch.where(t == 0, u0.detach() + (u - u.detach()), u)
    # u0 == s: u = s exactly; linearised flow gives du/du0 = E, du/ds = 1 - E, E = exp(-D s^a t/tau)
    E = torch.exp(-D * torch.pow(s, a) * t / tau)
    u_eq = s + (u0 - s) * E
    u = torch.where(eq, u_eq, u)
    if return_iterations:
        return u, iters
    return u


# ----------------------------------------------------------------------------------------------------------------
# mpmath reference


def deep_mode_time_mp(s, u0, uf, tau, depth: int, dps: int = 50, method: str = "hyp2f1"):
    """Reference ``deep_mode_time`` in mpmath, to about ``dps`` significant digits (inputs: floats or mpf, taken
    exactly; returns an ``mpf``).  Two methods, both independent of the closed form used by :func:`deep_mode_time`:

    * ``"hyp2f1"`` (default, fast): with ``w = v/s``, ``e = 2/D - 1``, ``a = 2 - 2/D``,
      ``t = tau/D s^(-a) [F(wf) - F(w0)]`` where below ``s`` ``F(w) = B(w; e, 0) = w^e/e 2F1(e, 1; e+1; w)`` (the
      incomplete beta function, ``int w^(e-1)/(1-w) dw``) and above ``s`` ``F(w) = B(1/w; a, 0)`` (from
      ``p = 1/w``); ``D = 2`` below and ``D = 1`` above, where a parameter vanishes, use the elementary logs.  The
      difference is taken at ``2 dps`` digits.
    * ``"quad"``: tanh-sinh quadrature of the integral in ``z = ln(w/|1-w|)``, where it becomes
      ``t = tau/D s^(-a) int_{z0}^{zf} w(z)^(2/D-1) dz`` with a smooth, analytic integrand (``w = sigmoid(z)``
      below ``s``, ``w = 1/(1-e^-z)`` above), split into unit intervals (0.05 to 4 s per call).
    """
    import mpmath as mp

    D = _check_depth(depth)
    if method not in ("hyp2f1", "quad"):
        raise ValueError(f"method={method!r}: must be 'hyp2f1' or 'quad'")
    with mp.workdps(2 * dps if method == "hyp2f1" else dps + 10):
        s, u0, uf, tau = (mp.mpf(x) for x in (s, u0, uf, tau))
        w0, wf = u0 / s, uf / s
        above = w0 > 1
        e = mp.mpf(2) / D - 1
        a = 2 - mp.mpf(2) / D
        if method == "hyp2f1":
            if not above:
                if D == 2:
                    val = mp.log(wf / w0) - mp.log((1 - wf) / (1 - w0))
                else:
                    def F(w):
                        return w ** e / e * mp.hyp2f1(e, 1, e + 1, w)
                    val = F(wf) - F(w0)
            else:
                if D == 1:
                    val = mp.log((w0 - 1) / (wf - 1))
                else:
                    def F(w):
                        return (1 / w) ** a / a * mp.hyp2f1(a, 1, a + 1, 1 / w)
                    val = F(wf) - F(w0)
        else:
            def zof(w):
                return mp.log(w / abs(1 - w))

            if above:
                def f(z):
                    return (-1 / mp.expm1(-z)) ** e
            else:
                def f(z):
                    return (1 / (1 + mp.exp(-z))) ** e
            z0, zf = zof(w0), zof(wf)
            n = int(mp.ceil(abs(zf - z0))) + 1
            val = mp.quad(f, mp.linspace(z0, zf, n + 1))
        res = tau / D * s ** (-a) * val
    with mp.workdps(dps):
        return +res
