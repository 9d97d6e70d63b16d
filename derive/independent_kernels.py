r"""Independent references of the matrix-valued results: ``KernelComposition`` and ``SpectralFlow`` (see
:mod:`learndyn.derive.independent`).

* Kernel composition: for two seeded inputs and hyperparameters drawn from the test ranges, the ``2 × 2`` kernel
  composed layer by layer, ``K¹ = σ_w² x xᵀ/d + σ_b²``, then per hidden layer ``Θ ← Ṫ(K) Θ``,
  ``K ← σ_w² T(K) + σ_b²``, ``Θ ← K + σ_w² Θ``, with ``T`` and ``Ṫ`` the Gaussian expectations that define the layer
  maps, integrated numerically (:mod:`learndyn.derive.gauss_quadrature`); against the same composition with the
  emitted layer forms and the carried ``det``, ``dist``, ``diff`` (as :func:`learndyn.numerics.kernels.compose` runs
  them).
* Spectral flow, for small seeded PSD kernels: ``df/dt = −r Θ (f − Y)`` and ``dg/dt = −r Θ_{*X} (f − Y)``, a linear
  ODE ``z' = M z`` in ``z = (f − Y, g)``, solved by the matrix exponential of ``M = [[−r Θ, 0], [−r Θ_{*X}, 0]]``
  (``mpmath.expm``: Taylor series with scaling and squaring, not an eigendecomposition) (train, test); ``Θ a = Y``
  solved by LU, then ``Θ_{*X} a`` (mean); the extreme eigenvalues as roots of the characteristic polynomial
  (Faddeev–LeVerrier in exact rationals, ``mpmath.polyroots``) (condition number); against the derived per-mode
  solutions lifted through ``mpmath.eigsy``.
"""
from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import sympy as sp

from learndyn.derive.independent import Comparison, Row, solvers_for
from learndyn.derive.independent_eval import evaluate, to_mpf
from learndyn.derive.proof import DerivationError

__all__ = ["kernel_composition", "spectral_flow", "KERNEL_CONFIGS", "FLOW_CASES"]

#: configurations per activation (1 and 2 hidden layers, sigma_w2 and sigma_b2 from the test ranges)
KERNEL_CONFIGS = 2
#: seeded kernels per spectral-flow result
FLOW_CASES = 2


def _float_rows(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> tuple:
    return tuple(tuple(float(rng.gauss(0.0, 1.0) * scale) for _ in range(cols)) for _ in range(rows))


def _rat(v) -> sp.Rational:
    return sp.Rational(v) if isinstance(v, float) else v


# -- kernels over a data set -----------------------------------------------------------------------------------------

def _draw(p, rng: random.Random) -> float:
    spec = p.test
    if p.log and spec.lo > 0:
        return float(10 ** rng.uniform(mpmath.log10(spec.lo), mpmath.log10(spec.hi)))
    return float(rng.uniform(spec.lo, spec.hi))


def _map(registry: dict, name: str):
    from learndyn.derive.independent_maps import expectation_value

    expr = registry[name].result.definition.expr
    memo: dict = {}

    def value(q1, c, q2):
        key = (q1, c, q2, mpmath.mp.prec)
        if key not in memo:
            memo[key] = expectation_value(expr, {"q1": q1, "c": c, "q2": q2})
        return memo[key]

    return value


def _independent_kernel(T, Td, x, L: int, w, b, output: str) -> tuple:
    """The ``2 × 2`` kernel of rows ``x`` composed with the maps by quadrature (``T``, ``Ṫ`` memoised: the diagonal
    variances recur in the off-diagonal entry)."""
    d = len(x[0])
    out = {}
    for i, j in ((0, 0), (0, 1), (1, 1)):
        k0 = [sum(_rat(a) * _rat(e) for a, e in zip(x[u], x[v])) / d for u, v in ((i, i), (j, j), (i, j))]
        q1, q2, c = (to_mpf(w * v + b) for v in k0)
        theta = c
        for _ in range(L):
            theta = (Td(q1, c, q2) if output == "ntk" else 0) * theta
            q1, q2, c = w * T(q1, q1, q1) + b, w * T(q2, q2, q2) + b, w * T(q1, c, q2) + b
            theta = c + w * theta
        out[i, j] = out[j, i] = c if output == "nngp" else theta
    return tuple(out[i, j] for i in range(2) for j in range(2))


def _derived_kernel(layer: dict, x, L: int, w, b, output: str, solvers) -> tuple:
    """The composition with the emitted layer and the carried gaps, as ``learndyn.numerics.kernels.compose`` runs it."""
    names = ("q1", "q2", "c", "det", "diff")
    keys = ("t11", "t22", "t12", "tdot12", "det_t", "dist_t", "diff_t")

    def run(at):
        return [evaluate(layer[k], dict(zip(names, at)), solvers) for k in keys]

    d = len(x[0])
    out = []
    for i in range(2):
        for j in range(2):
            xi, xj = [_rat(a) for a in x[i]], [_rat(a) for a in x[j]]
            q1, q2 = sum(a * a for a in xi) / d, sum(a * a for a in xj) / d
            c = sum(a * e for a, e in zip(xi, xj)) / d
            dist = sum((a - e) ** 2 for a, e in zip(xi, xj)) / d
            det, diff = q1 * q2 - c**2, q1 - q2
            q1, q2, c, det, dist, diff = (to_mpf(v) for v in (w * q1 + b, w * q2 + b, w * c + b, w * w * det + w * b * dist,
                                                            w * dist, w * diff))
            same = dist == 0
            theta = c
            for _ in range(L):
                t11, t22, t12, tdot12, det_t, dist_t, diff_t = run((q1, q2, 0, q1 * q2, diff) if same else
                                                                   (q1, q2, c, max(det, 0), diff))
                if same:
                    t12, tdot12 = t11, run((q1, q1, q1, 0, 0))[3]
                    det_t = dist_t = diff_t = mpmath.mpf(0)
                theta = tdot12 * theta
                q1, q2, c = w * t11 + b, w * t22 + b, w * t12 + b
                det, dist, diff = w * w * det_t + w * b * dist_t, w * dist_t, w * diff_t
                theta = c + w * theta
            out.append(c if output == "nngp" else theta)
    return tuple(out)


def kernel_composition(d, registry: dict) -> list:
    from learndyn.derive.gauss_quadrature import QuadratureBudget

    D = d.result.definition
    solvers = solvers_for(d, registry)
    params = {p.name: p for p in d.result.params}
    out = []
    for value, (t_name, tdot_name) in D.maps:
        for name in (t_name, tdot_name):
            if name not in registry:
                raise DerivationError(f"the map {name} must be derived first")
        T, Td = _map(registry, t_name), _map(registry, tdot_name)
        layer = dict(dict(d.layers)[value])
        rng = random.Random(f"{d.result.name}:{value}")
        rows = []
        for _ in range(20):
            x = _float_rows(rng, 2, 3)
            L = 1 + len(rows)  # one and two hidden layers: the second consumes the carried det, dist, diff
            w, b = _draw(params["sigma_w2"], rng), _draw(params["sigma_b2"], rng)
            try:
                independent = _independent_kernel(T, Td, x, L, sp.Rational(w), sp.Rational(b), D.output)
            except QuadratureBudget:
                continue
            derived = _derived_kernel(layer, x, L, sp.Rational(w), sp.Rational(b), D.output, solvers)
            point = {"x1": x, "hidden_layers": L, "sigma_w2": w, "sigma_b2": b, D.choice: value}
            rows.append(Row(point, {("", "emitted layer"): derived}, {"": independent}))
            if len(rows) == KERNEL_CONFIGS:
                break
        out.append((f"{value}: ", Comparison(
            f"the {D.output.upper()} of two seeded inputs composed layer by layer with {t_name} and {tdot_name} by Gaussian "
            "quadrature of their defining expectations, against the composition with the emitted layer and its carried "
            "det, dist, diff; 1 and 2 hidden layers, σ_w² and σ_b² from the test ranges; the 2 × 2 kernel compared "
            "normwise", rows)))
    return out


# -- spectral flow -----------------------------------------------------------------------------------------------------

def _case(rng: random.Random, n: int, k: int, m: int) -> dict:
    A = [[rng.gauss(0.0, 1.0) for _ in range(n)] for _ in range(n)]
    theta = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            theta[i][j] = theta[j][i] = float(sum(Fraction(A[i][l]) * Fraction(A[j][l]) for l in range(n)) / n
                                              + (Fraction(1, 2) if i == j else 0))
    return {"ntk_train_train": tuple(map(tuple, theta)), "ntk_test_train": _float_rows(rng, m, n),
            "y_train": _float_rows(rng, n, k), "f0_train": _float_rows(rng, n, k), "f0_test": _float_rows(rng, m, k)}


def _mp(rows) -> mpmath.matrix:
    return mpmath.matrix([[to_mpf(v) for v in r] for r in rows])


def _flat(M) -> tuple:
    return tuple(M[i, j] for i in range(M.rows) for j in range(M.cols))


def _characteristic_extremes(rows) -> tuple:
    """Smallest and largest eigenvalue as roots of ``det(λ I − Θ)``, its coefficients by Faddeev–LeVerrier in exact
    rationals."""
    n = len(rows)
    A = [[Fraction(v) for v in r] for r in rows]
    M = [[Fraction(0)] * n for _ in range(n)]
    coeffs = [Fraction(1)]
    for k in range(1, n + 1):
        AM = [[sum(A[i][l] * M[l][j] for l in range(n)) for j in range(n)] for i in range(n)]
        M = [[AM[i][j] + (coeffs[-1] if i == j else 0) for j in range(n)] for i in range(n)]
        AM = [[sum(A[i][l] * M[l][j] for l in range(n)) for j in range(n)] for i in range(n)]
        coeffs.append(-sum(AM[i][i] for i in range(n)) / k)
    roots = mpmath.polyroots([mpmath.mpf(c.numerator) / c.denominator for c in coeffs], maxsteps=200, extraprec=200)
    real = sorted(mpmath.re(r) for r in roots)
    return real[0], real[-1]


def _modes(theta) -> tuple:
    E, Q = mpmath.eigsy(_mp(theta))
    return [E[i] for i in range(E.rows)], Q


def _derived_flow(d, output: str, case: dict, t, r) -> tuple:
    lam, Q = _modes(case["ntk_train_train"])
    n = len(lam)
    if output == "condition":
        return (evaluate(d.derived, {"lambda_min": min(lam), "lambda_max": max(lam)}),)
    Y, f0 = _mp(case["y_train"]), _mp(case["f0_train"])
    y, u0 = Q.T * Y, Q.T * f0
    k = Y.cols
    if output == "train":
        U = mpmath.matrix(n, k)
        for i in range(n):
            for j in range(k):
                U[i, j] = evaluate(d.derived, {"t": t, "r": r, "lambda": lam[i], "y": y[i, j], "u0": u0[i, j]})
        return _flat(Q * U)
    coupling = _mp(case["ntk_test_train"]) * Q          # κ of each test output to each mode
    V = mpmath.matrix(n, k)
    for i in range(n):
        for j in range(k):
            at = {"t": t, "r": r, "lambda": lam[i], "y": y[i, j], "u0": u0[i, j], "v0": 0, "kappa": 1}
            V[i, j] = evaluate(d.derived, at)
    change = coupling * V
    return _flat(change if output == "mean" else _mp(case["f0_test"]) + change)


def _independent_flow(output: str, case: dict, times: list, r) -> list:
    theta, Y = _mp(case["ntk_train_train"]), _mp(case["y_train"])
    if output == "condition":
        lo, hi = _characteristic_extremes(case["ntk_train_train"])
        return [(hi / lo,)]
    star = _mp(case["ntk_test_train"])
    n, k, m = Y.rows, Y.cols, star.rows
    if output == "mean":
        a = mpmath.matrix(n, k)
        for j in range(k):
            col = mpmath.lu_solve(theta, mpmath.matrix([Y[i, j] for i in range(n)]))
            for i in range(n):
                a[i, j] = col[i]
        return [_flat(star * a)]
    # z = (f − Y, g) solves the linear ODE z' = M z, M = [[−r Θ, 0], [−r Θ_{*X}, 0]]: z(t) = expm(M t) z(0)
    M = mpmath.zeros(n + m, n + m)
    for i in range(n):
        for j in range(n):
            M[i, j] = -r * theta[i, j]
    for i in range(m):
        for j in range(n):
            M[n + i, j] = -r * star[i, j]
    z0 = mpmath.matrix(n + m, k)
    f0, g0 = _mp(case["f0_train"]), _mp(case["f0_test"])
    for j in range(k):
        for i in range(n):
            z0[i, j] = f0[i, j] - Y[i, j]
        for i in range(m):
            z0[n + i, j] = g0[i, j]
    out = []
    for t in times:
        z = mpmath.expm(M * t) * z0
        if output == "train":
            out.append(tuple(z[i, j] + Y[i, j] for i in range(n) for j in range(k)))
        else:
            out.append(tuple(z[n + i, j] for i in range(m) for j in range(k)))
    return out


def spectral_flow(d, registry: dict) -> list:
    output, _, rate = d.spectral[0]
    names = {p.name for p in d.result.params}
    lr_param = next((p for p in d.result.params if p.name == "lr"), None)
    rng = random.Random(f"{d.result.name}:flow")
    rows = []
    for i, (n, k, m) in enumerate(((3, 1, 2), (2, 2, 1))[:FLOW_CASES]):
        case = _case(rng, n, k, m)
        lr = _draw(lr_param, rng) if lr_param is not None else 1.0
        r = to_mpf(sp.Rational(lr)) / (n * k)
        lam, _ = _modes(case["ntk_train_train"])
        times = [sp.Rational(float(T / (r * max(lam)))) for T in (mpmath.mpf(1) / 2, 2)] if "t" in names else [None]
        independent = _independent_flow(output, case, [to_mpf(t) for t in times if t is not None] or [None], r)
        for t, ref in zip(times, independent):
            point = {key: v for key, v in {**case, "lr": lr, "t": t}.items() if key in names and v is not None}
            derived = _derived_flow(d, output, case, to_mpf(t) if t is not None else None, r)
            rows.append(Row(point, {("", "derived per mode"): derived}, {"": ref}))
    how = {"train": "the linear ODE df/dt = −r Θ (f − Y) solved by the matrix exponential (mpmath.expm: Taylor "
                    "series with scaling and squaring)",
           "test": "the linear ODEs df/dt = −r Θ (f − Y), dg/dt = −r Θ_{*X} (f − Y) solved together by the exponential "
                   "of the block matrix [[−r Θ, 0], [−r Θ_{*X}, 0]] (mpmath.expm: Taylor series with scaling and "
                   "squaring)",
           "mean": "Θ a = Y solved by LU, then Θ_{*X} a",
           "condition": "the extreme eigenvalues as roots of the characteristic polynomial (Faddeev–LeVerrier, "
                        "mpmath.polyroots)"}[output]
    return [("", Comparison(f"{how}, for seeded PSD kernels (n = 3, k = 1 and n = 2, k = 2), against the derived "
                            "per-mode solution lifted through mpmath.eigsy; compared normwise", rows))]
