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
``D`` = 1..1000.  ``deep_mode_trajectory``: value and gradients to a few ulps of the exact ``u(t)`` at the exact
input ``t`` (worst seen 2e-14 and 4e-14 relative over ``s, tau`` in 1e-3..1e3, ``u0/s`` in 1e-12..1e3,
``D`` = 1..1000), also where the inverse is ill conditioned, ``kappa = |t du/dt / u|`` up to ~1e11 (from a tiny
start at ``D > 2`` the time to reach ``u`` hardly depends on ``u``: ``kappa ~ (u/u0)^(1-2/D)``): the float64 solve
is backward stable only (error a few ulps times ``1 + kappa``), and the value is recomputed at high precision
where ``kappa > 10``, see :func:`deep_mode_trajectory`.  Gradients may overflow where ``u0^(2-2/D)`` underflows
(``u0`` below ~1e-154).
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


def _pf(lnw_s: torch.Tensor, lnw_e: torch.Tensor, lr: torch.Tensor, D: int, shift: bool = False) -> torch.Tensor:
    """int_{y_s}^{y_e} dy / (y^(D-1) (1 - y^D)), y = w^(1/D), by the exact partial-fraction closed form.

    ``lnw_s``, ``lnw_e``: ln w at start and end (both on the same side of 0); ``lr = lnw_e - lnw_s`` computed
    accurately by the caller.  ``shift`` (``D >= 3`` only): the integral less its start constant
    ``c0 = y_s^(2-D)/(D-2)`` (see :func:`_shift_constant`), i.e. ``y_e^(2-D)/(2-D)`` in place of the first term.
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
    if shift:
        assert D >= 3
        first = -torch.exp((2.0 - D) / D * lnw_e) / (D - 2.0)
    elif D == 2:
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


def _integral_parts(lnw_s, lnw_e, lr, D: int, above, shift: bool = False):
    """Dimensionless time ``I = I_pf + exp(-a ln w_ser) J`` (``t = tau s^(-a) I``) from ``w_s`` to ``w_e``.

    ``lr = ln(w_e/w_s)`` accurate; ``above``: w > 1.  Returns ``(I_pf, J, series_only, split)``: ``J`` is the series
    part scaled to its own end ``w_ser`` (``w_e`` where ``series_only``, 2 where ``split``), so that the caller can
    attach the factor ``u_ser^(-a)`` in absolute units, where ``t`` hardly depends on ``s``.
    """
    if shift:  # below s only (no series part)
        return _pf(lnw_s, lnw_e, lr, D, shift=True), None, None, None
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


def _integral(lnw_s, lnw_e, lr, D: int, above, shift: bool = False) -> torch.Tensor:
    """Dimensionless time I (t = tau s^(-a) I); see :func:`_integral_parts`."""
    I_pf, J, series_only, _ = _integral_parts(lnw_s, lnw_e, lr, D, above, shift)
    if J is None:
        return I_pf
    a = 2.0 - 2.0 / D
    return I_pf + torch.exp(-a * torch.where(series_only, lnw_e, torch.full_like(lnw_e, _LN2))) * J


def _time_core(s, u0, uf, gap, tau, D: int, shift: bool = False) -> torch.Tensor:
    """``deep_mode_time`` with the end point given twice: ``uf`` and ``gap = s - uf``.  ``gap`` is used wherever
    ``uf`` is next to ``s`` (``|gap| < s/2``), so it may carry more digits than ``fl(s - uf)`` (the trajectory
    passes the gap of its exact solution); elsewhere only ``uf`` is used.  ``shift`` (``D >= 3``, ``u0 < s``,
    no autograd): the time less ``tau s^(-a) c0`` (:func:`_shift_constant`)."""
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
    nr = (diff / u0).detach().abs() < 0.5
    dr = torch.where(nr, diff, torch.zeros_like(diff)) / u0  # (masked first: no 0 * inf in the backward)
    lr = torch.where(nr, torch.log1p(dr), torch.log(uf / u0))
    I_pf, J, series_only, _ = _integral_parts(lnw0, lnwf, lr, D, u0 > s, shift)
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


def _newton_update(z, lo, hi, theta, lnw0, above, D: int, shift: bool = False):
    """One safeguarded Newton update on active points; returns (z_new, lo, hi, converged).  ``shift``: solve
    ``I - c0 = theta`` (``theta`` then of either sign) with the shifted integral of :func:`_pf`."""
    e = 2.0 / D - 1.0
    a = 2.0 - 2.0 / D
    eps = torch.finfo(z.dtype).eps
    lnw = _lnw_of_z(z, above)
    I = _integral(lnw0, lnw, lnw - lnw0, D, above, shift)
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
    noise = res.abs() <= 4 * eps * theta.abs()
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


def _solve_z(theta, lnw0, z0, above, D: int, lo, hi, shift: bool = False, z_init=None):
    """Safeguarded Newton for I(lnw0, lnw(z)) = theta on the bracket [lo, hi] (no autograd); each iteration works
    on the points not yet converged only.  ``shift``: ``I - c0 = theta`` instead; ``z_init``: the start (else the
    geometric mean of the distances of the bracket ends from ``z0``).  Returns (z, iterations)."""
    shape = z0.shape
    theta, lnw0, z0, above, lo, hi = (x.reshape(-1) for x in (theta, lnw0, z0, above, lo, hi))
    done = torch.zeros_like(above) if shift else theta == 0
    if z_init is None:
        z = z0 + torch.sqrt((lo - z0).clamp_min(0) * (hi - z0).clamp_min(0))
    else:
        z = z_init.reshape(-1).clone()
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
        z_a, lo_a, hi_a, conv = _newton_update(z[act], lo[act], hi[act], theta[act], lnw0[act], above[act], D, shift)
        z[act], lo[act], hi[act] = z_a, lo_a, hi_a
        done[act] = conv


_KAPPA_SLOW = 10.0  # refine at high precision where kappa = |t du/dt / u| exceeds this
_DTHETA_SLOW = 1e12  # ... or where D theta (>= kappa) is so large that the float64 root may be far off
_KAPPA_GAP_SLOW = 20.0  # ... or where the gap s - u is ill conditioned and the refinement helps it


def _bracket(td, sd, u0d, taud, above, D: int):
    """Start quantities and an exact bracket of the root in z (no autograd): ``(lnw0, z0, theta, lo, hi, capped,
    cap_I)`` with ``theta = t s^a / tau`` and ``capped`` where ``theta`` is past ``cap_I``, its value at the cap
    ``z = 60`` (``u = s`` in float64)."""
    a = 2.0 - 2.0 / D
    e = 2.0 / D - 1.0
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
    return lnw0, z0, theta, lo, hi, capped, cap_I


def _polish(z_star, capped, z0, above, sd, u0d, target, taud, D: int, shift: bool = False):
    """Root ``z`` -> ``(u, gap = s - u)``, polished by one Newton step on the accurate residual ``T(u) - target``
    (``T`` shifted by ``tau s^(-a) c0`` where ``shift``); next to ``s`` the gap carries more digits than
    ``fl(s - u)``.  Past the cap the variable is ``z``: ``z0 + 2`` stands in (replaced by the caller)."""
    a = 2.0 - 2.0 / D
    zs = torch.where(capped, z0 + 2.0, z_star)
    zsa = torch.where(above & (zs > 0), zs, torch.ones_like(zs))
    gap_z = torch.where(above, -sd / _expm1(zsa), sd * torch.sigmoid(-zs))  # s - u, accurate
    near_s = gap_z.abs() < 0.5 * sd
    u_var = torch.where(near_s, sd - gap_z, sd * _w_of_z(zs, above))
    gap = torch.where(near_s, gap_z, sd - u_var)
    # polish: one Newton step on the accurate residual (in the gap next to s, in u elsewhere)
    T0 = _time_core(sd, u0d, u_var, gap, taud, D, shift)
    step = (T0 - target) * (D * torch.pow(u_var, a) * gap) / taud  # (T - t)/T_u
    gap_p = torch.where(near_s, gap + step, sd - (u_var - step))
    u_p = torch.where(near_s, sd - gap_p, u_var - step)
    keep = torch.isfinite(gap_p) & torch.isfinite(u_p) & (gap_p * gap > 0) & (u_p > 0)
    return torch.where(keep, u_p, u_var), torch.where(keep, gap_p, gap)


def _shift_constant(s, u0, tau, D: int, kappa_max: float) -> torch.Tensor:
    """``C = tau s^(-a) c0``, ``c0 = y0^(2-D)/(D-2) = w0^(2/D-1)/(D-2)`` (``D >= 3``), the part of the time
    ``t = tau s^(-a) I`` that depends on ``u0`` only and dominates it from a tiny start, as an expansion in ``k``
    float64s ``C_0 + C_1 + ...`` (``|C_{j+1}| <= ulp(C_j)``), each row of the result one point's expansion.

    Computed in mpmath from the exact inputs, once per distinct ``(s, u0, tau)``; ``k`` such that the remainder
    is below ``1e-3 eps C / kappa_max`` (``C/kappa`` is the time scale on which ``u`` changes relatively by 1).
    """
    import mpmath as mp

    k = 2 + math.ceil((3.0 + math.log10(1.0 + kappa_max)) / 15.0)
    trip = torch.stack([s, u0, tau], -1).to("cpu", torch.float64)
    uniq, inv = torch.unique(trip, dim=0, return_inverse=True)
    rows = []
    with mp.workdps(16 * k + 10):
        a = 2 - mp.mpf(2) / D
        e = mp.mpf(2) / D - 1
        for ss, uu, tt in uniq.tolist():
            S = mp.mpf(ss)
            C = mp.mpf(tt) * S ** (-a) * (mp.mpf(uu) / S) ** e / (D - 2)
            parts = []
            for _ in range(k):
                p = float(C)
                parts.append(p)
                C = C - p
            rows.append(parts)
    return torch.tensor(rows, dtype=torch.float64)[inv].to(s.device)


def _refine_shifted(td, sd, u0d, taud, z_start, D: int):
    """High-precision root for ``D >= 3``, ``u0 < s`` (float64, 1-D, no autograd).

    ``t = C + tau s^(-a) I_shift(u)`` with ``C`` (:func:`_shift_constant`) the large constant that makes the float64
    solve ill conditioned and ``I_shift = I - c0 = -w^(2/D-1)/(D-2) + (partial-fraction logs)`` a moderate function
    of ``u``: the residual time ``r = t - C`` is formed from the exact ``t`` and the float expansion of ``C`` (exact
    to ``eps |r|``), and ``tau s^(-a) I_shift(u) = r`` is a well-conditioned equation (condition number ``D/(D-2)``
    from a tiny start, ``<= ~15`` in the transition), solved by the same bracketed Newton iteration and polish.
    Also decides the cap (``t`` past ``z = 60``) accurately, which the float64 comparison of ``theta`` with the
    huge ``c0 + ...`` may not.  Returns ``(u, gap, capped, ok, iterations)``.
    """
    a = 2.0 - 2.0 / D
    above = torch.zeros_like(td, dtype=torch.bool)
    lnw0, z0, theta, lo, hi, _, _ = _bracket(td, sd, u0d, taud, above, D)
    P = _shift_constant(sd, u0d, taud, D, float((D * theta).max()))
    r = td
    for j in range(P.shape[-1]):
        r = r - P[:, j]
    rho = r * torch.pow(sd, a) / taud
    lnwc = _lnw_of_z(torch.full_like(z0, _Z_CAP), above)
    capped = rho >= _integral(lnw0, lnwc, lnwc - lnw0, D, above, shift=True)
    z, iters = _solve_z(torch.where(capped, torch.zeros_like(rho), rho), lnw0, z0, above, D, lo, hi, shift=True,
                        z_init=z_start)
    u, gap = _polish(z, capped, z0, above, sd, u0d, r, taud, D, shift=True)
    ok = capped | (torch.isfinite(u) & torch.isfinite(gap) & (u > 0) & (gap > 0))
    return u, gap, capped, ok, iters


def _two_prod(a: torch.Tensor, b: torch.Tensor):
    """``a b = p + err`` exactly (Dekker's splitting; float64, ``|a|, |b| < ~1e300``)."""
    c = 134217729.0  # 2^27 + 1
    ca, cb = c * a, c * b
    ah = ca - (ca - a)
    al = a - ah
    bh = cb - (cb - b)
    bl = b - bh
    p = a * b
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _refine_closed(td, sd, u0d, taud, D: int):
    """High-precision root for ``D = 1`` and ``D = 2`` from the elementary closed forms (float64, vectorised):
    ``s - u = (s - u0) e^(-x)``, ``x = t/tau`` (``D = 1``) and ``u = s/(1 + q)``, ``q = ((s - u0)/u0) e^(-x)``,
    ``x = 2 s t/tau`` (``D = 2``).  The exponent ``x`` (the product that float64 rounds to ``eps x``, amplified to
    ``kappa ~ x``) is formed as an unevaluated sum ``x_hi + x_lo`` by error-free transformations, and
    ``e^(-x) = e^(-x_hi) (1 - x_lo)``; every other step rounds relatively once.  Returns ``(u, gap)``."""
    p, pe = (td, torch.zeros_like(td)) if D == 1 else _two_prod(2.0 * sd, td)
    x_hi = p / taud
    m, me = _two_prod(x_hi, taud)
    x_lo = (((p - m) - me) + pe) / taud  # p - m exact (Sterbenz)
    E = torch.exp(-x_hi) * (1.0 - x_lo)
    if D == 1:
        gap = (sd - u0d) * E
        return sd - gap, gap
    q = (sd - u0d) / u0d * E
    return sd / (1.0 + q), sd * (q / (1.0 + q))


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
    digits than ``fl(s - u)``).

    That root is exact for a time within a few ulps of ``t``: its error is a few ulps times ``1 + kappa``,
    ``kappa = |t du/dt / u|``.  Where ``kappa > 10`` (from a tiny start at ``D > 2``, ``kappa ~ (u/u0)^(1-2/D)``
    reaches ~1e11 at ``u0/s = 1e-12``: there ``t`` is a huge ``u0``-dependent constant ``C`` plus a moderate
    function of ``u``), the value is recomputed at high precision on those points only: for ``D >= 3`` the residual
    time ``t - C`` is formed with ``C`` from mpmath (once per distinct ``(s, u0, tau)``) as an expansion of
    float64s, and the remaining, well-conditioned equation is solved in float64, vectorised
    (:func:`_refine_shifted`); for ``D <= 2`` (where ``kappa > 10`` needs ``u0/s`` below ~1e-9, or above ~1e40 at
    ``D = 1``) the elementary closed form is evaluated with its exponent as an exact sum of two float64s
    (:func:`_refine_closed`).  The same is done next to ``s`` where the gap ``s - u`` is ill conditioned and the
    refinement helps it (``D <= 2``; ``D >= 3`` from a tiny start), so that the gradients are accurate too.  The
    refinement runs in float64 whatever the dtype.  In float64 the value is then within a few ulps of the exact
    ``u(t)`` at the exact input ``t`` everywhere (measured: <= 2e-14 relative; ~1e-13 for ``u/s`` below 1e-280,
    the resolution of ``z``).

    Gradients with respect to ``t, s, u0, tau`` come from one implicit-function step ``u - (T(u) - t)/T_u`` with
    ``T`` as in :func:`deep_mode_time`, whose value is detached (the result is exactly the root).  ``t = 0``
    returns ``u0`` exactly; ``t`` past ~60 relaxation times returns ``s`` exactly (``du/ds = 1``, other
    derivatives ~0).  Second derivatives are not supported.  With ``return_iterations=True`` returns
    ``(u, iterations)`` (the most Newton iterations of the float64 solve and of the refinement).
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
        lnw0, z0, theta, lo, hi, capped, cap_I = _bracket(td, sd, u0d, taud, above, D)
        zc = torch.full_like(z0, _Z_CAP)
        th_solve = torch.where(capped, torch.zeros_like(theta), theta)
        z_star, iters = _solve_z(th_solve, lnw0, torch.where(capped, zc, z0), above, D, lo, hi)
        z_star = torch.where(capped, zc, z_star)
        z_star = torch.where(theta == 0, z0, z_star)
        u_var, gap = _polish(z_star, capped, z0, above, sd, u0d, td, taud, D)
        # ill-conditioned points: the value again at high precision
        f64 = torch.float64
        s64, u64, g64, t64, tau64 = (x.to(f64) for x in (sd, u_var, gap, td, taud))
        kappa = t64 * D * torch.pow(u64, a) * g64.abs() / (tau64 * u64)
        dtheta = D * t64 * torch.pow(s64, a) / tau64
        # D <= 2: the closed forms hold on both sides of s; D >= 3: the refinement is for u0 < s (above s kappa
        # stays below ~1 for every start)
        elig = (td > 0) & ~eq & (~above | (D <= 2))
        # the cap is decided in float64 too: doubtful where theta is within rounding of cap_I (D >= 3, tiny start;
        # cap_I ~ c0 = w0^(2/D-1)/(D-2) carries the rounding of its exponent, ~ eps |ln w0|)
        doubt = 16 * torch.finfo(theta.dtype).eps * (2.0 + lnw0.abs()) * theta
        elig = elig & (~capped | ((D >= 3) & (theta - cap_I <= doubt)))
        # next to s the gap s - u (and with it du/dt, du/du0, du/dtau) has the condition number
        # kappa_gap = kappa u/|s - u| ~ D theta: refined too (for accurate gradients) where that helps: at D <= 2
        # always, at D >= 3 where most of theta is the constant c0 that the refinement takes out exactly
        kappa_gap = kappa * u64 / g64.abs()
        helps = torch.ones_like(elig) if D <= 2 else torch.exp(e * lnw0.to(f64)) / (D - 2.0) > 0.75 * dtheta / D
        slow = elig & (capped | (kappa > _KAPPA_SLOW) | (dtheta > _DTHETA_SLOW)
                       | ((kappa_gap > _KAPPA_GAP_SLOW) & helps))
        if bool(slow.any()):
            shape = u_var.shape
            idx = slow.reshape(-1).nonzero().squeeze(-1)
            t_s, s_s, u0_s, tau_s = (x.reshape(-1)[idx].to(f64) for x in (td, sd, u0d, taud))
            if D >= 3:
                u_r, g_r, cap_r, ok, it_r = _refine_shifted(t_s, s_s, u0_s, tau_s,
                                                            z_star.reshape(-1)[idx].to(f64), D)
                iters = max(iters, it_r)
            else:
                u_r, g_r = _refine_closed(t_s, s_s, u0_s, tau_s, D)
                cap_r = torch.zeros_like(u_r, dtype=torch.bool)
                ok = torch.isfinite(u_r) & torch.isfinite(g_r) & (u_r > 0)
            idx, u_r, g_r, cap_r = idx[ok], u_r[ok], g_r[ok], cap_r[ok]
            u_var, gap, capped, z_star = (x.reshape(-1).clone() for x in (u_var, gap, capped, z_star))
            capped[idx] = cap_r
            z_star[idx] = torch.where(cap_r, _Z_CAP, z_star[idx])
            # past the cap: the values of _polish (z0 + 2 stands in), replaced below
            u_var[idx] = torch.where(cap_r, u_var[idx], u_r.to(u_var.dtype))
            gap[idx] = torch.where(cap_r, gap[idx], g_r.to(gap.dtype))
            u_var, gap, capped, z_star = (x.reshape(shape) for x in (u_var, gap, capped, z_star))
        delta = (sd - u_var) - gap  # what the gap knows beyond fl(s - u)
    # Implicit-function step: the value is the (polished) root, the gradient -(dG/dparam)/(dG/du) with
    # G = T(s, u0, u, tau) - t, T as in deep_mode_time, whose gradients are accurate to a few ulps relative (also
    # where they are small: du/ds near t = 0, du/du0 near s).  Next to s the root is carried as its gap s - u, to
    # more digits than fl(s - u) has, so that everything proportional to s - u (du/dt, du/du0, du/dtau) is
    # accurate at the true root, not only at its rounding.  Past the cap (u = s to ~1e-26) the variable is z.
    gap_t = (s - u_var) - delta  # value: the accurate gap; d/ds = 1 at fixed u
    T = _time_core(s, u0_eff, u_var, gap_t, tau, D)
    # dT/du, attached to tau only: then du/dtau = -(t/tau)/T_u exactly (also where u rounds to u0); attaching it
    # to s too would add (T - t) d(T_u)/ds / T_u^2, rounding noise amplified by 1/(s - u) near s
    # (as the rate 1/T_u = D u^a (s - u)/tau, which may underflow to 0 where T_u would overflow)
    rate = (D * torch.pow(u_var, a) * gap).detach() / tau
    corr = -(T - t) * rate
    u_a = u_var + (corr - corr.detach())  # value: exactly the root; gradient: implicit function theorem
    # capped (t far past the time scale): Newton step in z from the cap; u = s, du/ds = 1, the rest ~ 0
    u = u_a
    if bool(capped.any()):
        lnw0g = _log_ratio(u0_eff, s)
        theta_g = t * torch.pow(s, a) / tau
        z_c = torch.where(capped, z_star, z0 + 2.0)
        lnwz = _lnw_of_z(z_c, above)
        I_c = _integral(lnw0g, lnwz, lnwz - lnw0g, D, above)
        dIdz = (torch.exp(e * lnwz) / D).detach()
        corr_c = -(I_c - theta_g) / dIdz
        # value: the step past the cap only (from a tiny start I_c - theta is rounding noise of the huge c0 in
        # float64, and a step back would leave s)
        z = z_c + corr_c.detach().clamp_min(0.0) + (corr_c - corr_c.detach())
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
