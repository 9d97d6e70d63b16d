"""Gradient descent's first-order deviation from the gradient flow, derived from the per-step map.

A strength ``u`` that GD moves by ``u ← M(u, η)`` with ``M(u, η) = u + η f(u) + η² h(u) + O(η³)`` follows the flow
``du/dτ = f(u)`` at flow time ``τ = η k`` up to a global error ``u_k − u(τ) = η E(τ) + O(η²)``. The local error of one
step is ``η² (h − ½ f' f)`` (the flow's own second-order term is ``½ η² u'' = ½ η² f' f``), and it propagates with
the flow's variational equation, so

    dE/dτ = f'(u) E + h(u) − ½ f'(u) f(u),   E(0) = 0,

whose solution (the flow's own ``u' = f(u)`` solves the homogeneous equation) is

    E = f(u) ∫_{u0}^{u} (h(v) − ½ f'(v) f(v)) / f(v)² dv.

:func:`derive_first_order` derives ``f``, ``h`` and ``E`` from a declared map with SymPy, proves ``E`` by substitution
into the equation above (and ``E(u0) = 0``), and checks the closed form against Gauss–Legendre quadrature of the
integral (a different method) at sample points. The deviation GD shows at a learning rate is then ``η·|E|``: the
first-order theory of the ``lr`` axis of a validity map.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import sympy as sp

__all__ = ["FirstOrderGD", "derive_first_order", "scalar_network_first_order", "deep_mode_first_order"]


@dataclass(frozen=True)
class FirstOrderGD:
    """The derived first-order coefficient ``E(u; params)`` of a GD map, proven; ``coefficient(u, **params)``
    evaluates it (numpy, float64)."""

    map: sp.Expr
    flow: sp.Expr
    second: sp.Expr
    coefficient_expr: sp.Expr
    u: sp.Symbol
    u0: sp.Symbol
    params: tuple[sp.Symbol, ...]
    proof: Mapping[str, bool]

    @functools.cached_property
    def _numeric(self) -> Callable:
        return sp.lambdify((self.u, self.u0, *self.params), self.coefficient_expr, modules="numpy")

    def coefficient(self, u, u0, **params) -> np.ndarray:
        """``E`` at strength ``u`` from ``u0`` (the flow's own ``u(τ)``), broadcasting."""
        # the logarithms of the integral may be of negative factors whose ratio is positive (``ln(ux − y) −
        # ln(u0 x − y)`` below the plateau): evaluated on complex numbers, their imaginary parts cancel
        with np.errstate(all="ignore"):
            value = np.real(np.asarray(self._numeric(np.asarray(u, dtype=complex), np.asarray(u0, dtype=complex),
                                                     *(np.asarray(params[str(p)], dtype=complex) for p in self.params))))
        # at a fixed point of the flow (u = s to round-off) E = f(u)·∫… is 0·ln 0 = 0
        return np.where(np.isfinite(value), value, 0.0)


def _quadrature(integrand: Callable, a: float, b: float, nodes: int = 64, pieces: int = 8) -> float:
    """``∫_a^b integrand`` (``0 < a, b``) by Gauss–Legendre in ``ln v`` on ``pieces`` panels (the integrand of a
    strength grows like ``1/v`` from a small start)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(np.log(a), np.log(b), pieces + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        t = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x
        total += 0.5 * (hi - lo) * float(np.sum(w * integrand(np.exp(t)) * np.exp(t)))
    return total


def derive_first_order(step: sp.Expr, u: sp.Symbol, eta: sp.Symbol, u0: sp.Symbol, params: tuple[sp.Symbol, ...],
                       samples: tuple[Mapping[sp.Symbol, float], ...] = ()) -> FirstOrderGD:
    """Derive and prove ``E`` (module docstring) for the per-step map ``step`` of ``u`` at learning rate ``eta``.

    ``samples``: parameter values (with ``u0`` and ``u``) at which the closed form is checked against quadrature;
    raises ``AssertionError`` where the proof or the check fails."""
    v = sp.Dummy("v", positive=True)
    f = sp.simplify(sp.diff(step, eta).subs(eta, 0))
    h = sp.simplify(sp.diff(step, eta, 2).subs(eta, 0) / 2)
    integrand = sp.cancel(((h - sp.diff(f, u) * f / 2) / f**2).subs(u, v))
    integral = sp.integrate(integrand, (v, u0, u))
    E = sp.factor_terms(sp.expand_log(f * integral, force=True))
    residual = sp.simplify(sp.diff(E, u) * f - (sp.diff(f, u) * E + h - sp.diff(f, u) * f / 2))
    initial = sp.simplify(E.subs(u, u0))
    proof = {"solves dE/dtau = f'(u) E + h - f' f / 2": residual == 0, "E(u0) = 0": initial == 0}
    if not all(proof.values()):
        raise AssertionError(f"the first-order coefficient of {step} is not proven: {proof} (residual {residual})")
    fo = FirstOrderGD(step, f, h, E, u, u0, params, proof)
    if samples:
        g = sp.lambdify((v, *params), integrand, modules="numpy")
        fn = sp.lambdify((u, *params), f, modules="numpy")
        for point in samples:
            vals = [float(point[p]) for p in params]
            a, b = float(point[u0]), float(point[u])
            by_quadrature = float(fn(b, *vals)) * _quadrature(lambda x: g(x, *vals), a, b)
            exact = float(fo.coefficient(b, a, **{str(p): x for p, x in zip(params, vals)}))
            if not abs(by_quadrature - exact) <= 1e-9 * max(abs(exact), 1e-300):
                raise AssertionError(f"first-order coefficient: closed form {exact!r} != quadrature {by_quadrature!r} "
                                     f"at {point}")
        proof["closed form = Gauss-Legendre quadrature of the integral"] = True
    return fo


@functools.lru_cache(maxsize=None)
def scalar_network_first_order() -> FirstOrderGD:
    """The scalar network ``ŷ = w2 w1 x`` from a balanced start: ``w ← w + lr x w (y − x w²)`` for both layers, so
    ``u = w²`` moves by ``u ← u (1 + lr x (y − x u))²`` and its flow is ``du/dτ = 2 x u (y − x u)``, ``τ = lr·t``."""
    u, u0, lr, x, y = sp.symbols("u u0 lr x y", positive=True)
    step = u * (1 + lr * x * (y - x * u)) ** 2
    samples = tuple({u0: a, u: b, x: xx, y: yy} for a, b, xx, yy in ((1e-3, 0.9, 0.5, 2.0), (0.05, 1.5, 1.3, 2.0),
                                                                       (0.1, 0.2, 2.0, 0.5)))
    return derive_first_order(step, u, lr, u0, (x, y), samples)


@functools.lru_cache(maxsize=None)
def deep_mode_first_order(depth: int) -> FirstOrderGD:
    """A mode of a ``depth``-layer linear network from a balanced, decoupled start on whitened data: every layer's
    strength ``a`` moves by ``a ← a + lr (s − a^D) a^{D−1}``, so ``u = a^D`` moves by
    ``u ← u (1 + lr (s − u) a^{D−2})^D`` and its flow is ``du/dτ = D u^{2−2/D} (s − u)``, ``τ = lr·t``.

    Derived in the layer strength ``a`` (where the map is polynomial) and returned as a function of ``u``."""
    a, a0, lr, s = sp.symbols("a a0 lr s", positive=True)
    D = int(depth)
    step_a = a + lr * (s - a**D) * a ** (D - 1)
    # E in u is D a^{D-1} times E in a (u = a^D is smooth in a): derive in a
    samples = tuple({a0: p, a: q, s: ss} for p, q, ss in ((0.1, 0.9, 1.0), (0.5, 1.1, 2.0)))
    fo = derive_first_order(step_a, a, lr, a0, (s,), samples)
    u, u0 = sp.symbols("u u0", positive=True)
    E_u = (D * a ** (D - 1) * fo.coefficient_expr).subs({a: u ** sp.Rational(1, D), a0: u0 ** sp.Rational(1, D)})
    return FirstOrderGD(fo.map, fo.flow, fo.second, E_u, u, u0, (s,), fo.proof)
