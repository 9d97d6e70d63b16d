"""Exact, stable, differentiable deep-linear-network mode dynamics.

A balanced deep linear network with ``D = depth`` weight matrices learns the strength ``u`` of one input-output
mode (singular value ``s``) along

    tau du/dt = D u^(2 - 2/D) (s - u).

This module gives

* :func:`deep_mode_time` -- the time to go from ``u0`` to ``uf``,
  ``t = tau/D * int_{u0}^{uf} dv / (v^(2-2/D) (s - v))``, in exact closed form for every integer ``D``;
* :func:`deep_mode_trajectory` -- its inverse ``u(t)``, by a vectorised safeguarded Newton solve with gradients
  attached by the implicit function theorem;
* :func:`deep_mode_time_mp` -- an independent mpmath reference (quadrature) for tests.

Notation used throughout: ``w = u/s`` (dimensionless strength), ``y = w^(1/D)``, ``a = 2 - 2/D``,
``e = 2/D - 1`` and the *dimensionless time* ``I`` with ``t = tau * s^(-a) * I``.

Closed form (derivation).  With ``v = s y^D``,

    I = int_{y0}^{yf} dy / (y^(D-1) (1 - y^D)),   1/(y^(D-1)(1-y^D)) = y^(1-D) + y/(1 - y^D),

* ``int y^(1-D) dy = y0^(2-D) L exprel((2-D) L)`` with ``L = ln(yf/y0) = ln(uf/u0)/D``;
* for ``D >= 2`` the partial fractions ``y/(1-y^D) = -(1/D) sum_k w_k^2/(y - w_k)``, ``w_k = exp(2 pi i k/D)``, give
  ``-(1/D) sum_k w_k^2 log(1 + Delta/(y0 - w_k))`` with ``Delta = yf - y0 = y0 expm1(L)``; the ``k = 0`` term is
  ``-(1/D) log((1-yf)/(1-y0))``, ``k = D/2`` (even ``D``) is ``-(1/D) log1p(Delta/(y0+1))`` and the conjugate pairs
  ``k, D-k`` give ``2 Re``; the real and imaginary parts of each complex log are formed without cancellation
  (``ln|1+z|^2 = log1p(Delta (y0 + yf - 2 cos th)/|y0 - w|^2)`` and ``arg(1+z) = atan2(Delta sin th,
  (y0 - cos th)(yf - cos th) + sin^2 th)``, with ``y - cos th = 2 sin^2(th/2) - (1 - y)``);
* ``D = 1``: the ``y^0`` term and the improper part of ``y/(1-y)`` cancel exactly and ``I = -log((1-yf)/(1-y0))``.

Above the target (``u0 > s``) the two terms have opposite signs and cancel by a factor of about ``w``; there the
integral over ``w >= 2`` is taken from the convergent series (``p = 1/w <= 1/2``)

    int_{w_e}^{w_s} dw / (w^a (w - 1)) = sum_j p_e^(j+a) (1 - exp(-(j+a) lam)) / (j+a),  lam = ln(w_s/w_e),

whose terms are all positive, and the partial-fraction form is used only on ``1 < w <= 4`` (an interval straddling
``w = 2`` with ``w_s > 4`` is split at ``w = 2``).
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
_TRACE = False


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
    delta = y_s * _expm1(L)  # y_e - y_s
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
        dt = lnw_s.dtype
        k = torch.arange(1, K + 1, dtype=torch.float64, device=lnw_s.device)
        th = (2.0 * math.pi / D) * k
        s2 = (2.0 * torch.sin(0.5 * th) ** 2).to(dt)  # 1 - cos th
        sn = torch.sin(th).to(dt)
        c2 = torch.cos(2.0 * th).to(dt)
        sn2 = torch.sin(2.0 * th).to(dt)
        oms = om_s.unsqueeze(-1)
        ome = om_e.unsqueeze(-1)
        dl = delta.unsqueeze(-1)
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
        total = total - terms.flip(-1).sum(-1) / D
    return total


def _series(lnw_e: torch.Tensor, lam: torch.Tensor, D: int) -> torch.Tensor:
    """(1/D) int_{w_e}^{w_e e^lam} dw / (w^a (w - 1)) for w_e >= 2 (p = 1/w_e <= 1/2), lam >= 0."""
    a = 2.0 - 2.0 / D
    j = torch.arange(_SERIES_TERMS - 1, -1, -1, dtype=lnw_e.dtype, device=lnw_e.device) + a  # small terms first
    le = lnw_e.unsqueeze(-1)
    la = lam.unsqueeze(-1)
    terms = torch.exp(-j * le) * (-_expm1(-j * la)) / j
    return terms.sum(-1) / D


def _integral(lnw_s: torch.Tensor, lnw_e: torch.Tensor, lr: torch.Tensor, D: int, above: torch.Tensor) -> torch.Tensor:
    """Dimensionless time I (t = tau s^(-a) I) from w_s to w_e; ``lr = ln(w_e/w_s)`` accurate; ``above``: w > 1."""
    if D == 1:
        return _pf(lnw_s, lnw_e, lr, D)
    ln2 = torch.full_like(lnw_s, _LN2)
    zero = torch.zeros_like(lnw_s)
    series_only = above & (lnw_e >= _LN2)
    split = above & (lnw_s > _LN4) & (lnw_e < _LN2)
    pf_s = torch.where(split | series_only, ln2, lnw_s)
    pf_e = torch.where(series_only, ln2, lnw_e)
    pf_lr = torch.where(split, lnw_e - ln2, torch.where(series_only, zero, lr))
    out = _pf(pf_s, pf_e, pf_lr, D)
    if bool((series_only | split).any()):
        ser_e = torch.where(split, ln2, torch.where(series_only, lnw_e, ln2))
        ser_lam = torch.where(split, lnw_s - ln2, torch.where(series_only, -lr, zero))
        out = out + _series(ser_e, ser_lam, D)
    return out


def deep_mode_time(s: torch.Tensor, u0: torch.Tensor, uf: torch.Tensor, tau: torch.Tensor, depth: int) -> torch.Tensor:
    """Time for ``tau du/dt = D u^(2-2/D) (s - u)`` to take ``u`` from ``u0`` to ``uf``.

    ``t = tau/D * int_{u0}^{uf} dv / (v^(2-2/D) (s - v))``.  Domain (not checked here): ``s > 0``, ``u0 > 0``,
    ``tau > 0``, ``uf`` strictly between ``u0`` and ``s`` (``u0 > s`` allowed: then ``s < uf < u0``), ``depth`` an
    int ``>= 1``.  Tensors broadcast; the result keeps their dtype and device; differentiable.
    """
    D = _check_depth(depth)
    s, u0, uf, tau = torch.broadcast_tensors(s, u0, uf, tau)
    lnw0 = _log_ratio(u0, s)
    lnwf = _log_ratio(uf, s)
    lr = _log_ratio(uf, u0)
    I = _integral(lnw0, lnwf, lr, D, u0 > s)
    return tau * torch.pow(s, -(2.0 - 2.0 / D)) * I


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


def _solve_z(theta, lnw0, z0, above, D, lo, hi):
    """Safeguarded Newton for I(lnw0, lnw(z)) = theta on [lo, hi]; returns (z, iterations)."""
    e = 2.0 / D - 1.0
    a = 2.0 - 2.0 / D
    eps = torch.finfo(z0.dtype).eps
    done = theta == 0
    # start: geometric mean of the distances of the bracket ends from z0
    z = z0 + torch.sqrt((lo - z0).clamp_min(0) * (hi - z0).clamp_min(0))
    z = torch.where(done, z0, torch.where((z > lo) & (z < hi), z, 0.5 * (lo + hi)))
    it = 0
    while True:
        if bool(done.all()):
            return z, it
        if it >= _MAX_ITER:
            bad = (~done).nonzero()[:5].tolist()
            raise RuntimeError(f"deep_mode_trajectory: Newton solve did not converge in {_MAX_ITER} iterations "
                               f"(first unconverged indices {bad})")
        it += 1
        lnw = _lnw_of_z(z, above)
        I = _integral(lnw0, lnw, lnw - lnw0, D, above)
        res = I - theta
        lo = torch.where(~done & (res < 0), z, lo)
        hi = torch.where(~done & (res > 0), z, hi)
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
        if _TRACE:
            print(it, z.tolist(), res.tolist(), use_g.tolist(), lo.tolist(), hi.tolist())
        inside = (z_new > lo) & (z_new < hi) & torch.isfinite(z_new)
        z_new = torch.where(inside, z_new,
                            torch.where(step_small | noise, torch.minimum(torch.maximum(z_new, lo), hi),
                                        0.5 * (lo + hi)))
        z_new = torch.where((res == 0) | (noise & ~inside), z, z_new)
        converged = step_small | noise | ((hi - lo) <= 4 * eps * zscale)
        z = torch.where(done, z, z_new)
        done = done | converged


def deep_mode_trajectory(t: torch.Tensor, s: torch.Tensor, u0: torch.Tensor, tau: torch.Tensor, depth: int,
                         *, return_iterations: bool = False):
    """Mode strength ``u(t)`` solving ``tau du/dt = D u^(2-2/D) (s - u)``, ``u(0) = u0`` (inverse of
    :func:`deep_mode_time`).

    Domain (not checked here): ``t >= 0``, ``s, u0, tau > 0``, ``depth`` an int ``>= 1``; ``u0 = s`` gives
    ``u = s``; ``u0 > s`` decreases toward ``s``.  Solved in ``z = ln(u/|s-u|)`` by a bracketed Newton iteration
    (steps in ``z`` near ``s``, in ``w^(2/D-1)`` or ``w^(2/D-2)`` far from it, bisection fallback) to float64
    precision; gradients with respect to ``t, s, u0, tau`` come from one implicit-function Newton step.  With
    ``return_iterations=True`` returns ``(u, iterations)``.
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
    # Implicit-function step: the value is one more Newton step from the converged root, the gradient is
    # -(dG/dparam)/(dG/dvar).  The variable is l = ln(u/u0) where the flow does not contract much,
    # rho = (du/du0)/(u/u0) = (w/w0)^(1-2/D) (1-w)/(1-w0) >= 1/2 (then du/ds, small near t = 0, stays accurate
    # relative to itself), and z where rho < 1/2 (then du/du0 << u/u0 stays accurate).
    lnw0g = _log_ratio(u0_eff, s)
    theta_g = t * torch.pow(s, a) / tau
    lnwz = _lnw_of_z(z_star, above)
    with torch.no_grad():
        lnrho = (a - 1.0) * (lnwz - lnw0) + torch.log(_expm1(lnwz) / _expm1(lnw0))
        near = (lnrho >= -_LN2) & ~capped
    ell_star = torch.where(near, lnwz - lnw0, torch.zeros_like(lnw0))
    lnw_e = torch.where(near, lnwz, lnw0)
    G_ell = torch.exp(e * lnw_e) / (D * -_expm1(lnw_e))  # dI/dln w
    I_near = _integral(lnw0g, lnw0g + ell_star, ell_star, D, above)
    ell = ell_star - (I_near - theta_g) / G_ell
    u_near = u0_eff * torch.exp(ell)
    z_far = torch.where(near, z0 + 2.0, z_star)  # stand-in for near points (any valid z)
    lnwz_far = _lnw_of_z(z_far, above)
    I_far = _integral(lnw0g, lnwz_far, lnwz_far - lnw0g, D, above)
    dIdz = torch.exp(e * lnwz_far) / D
    z = z_far - (I_far - theta_g) / dIdz
    u = torch.where(near, u_near, s * _w_of_z(z, above))
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
