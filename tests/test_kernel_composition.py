"""The kernel composition's fast paths (issue 21): the input moments by double-double matrix products with exact
recomputation where their bound is not met, the joint NNGP + NTK call, the symmetric half in row blocks.

References are independent: the moments at 60 digits from the rows themselves (mpmath), the kernels from
:func:`~learndyn.verify.kernel_checks.kernel_reference` (the derived maps composed at 120 digits). Tolerances: the
moments to ``4u`` relative (each is the double-double value rounded once, or the per-pair recomputation, which
keeps ``det``'s relative accuracy by projecting out twice); the kernels to ``1e-12`` (the project's bound).
"""
from __future__ import annotations

import mpmath
import pytest
import torch

import learndyn
from learndyn.domain import DomainError
from learndyn.numerics import kernels as K
from learndyn.verify.kernel_checks import kernel_reference

F64 = torch.float64
U = 2.0 ** -53


def hard_rows(n: int = 20, d: int = 64, seed: int = 7) -> torch.Tensor:
    """Generic rows, and the hard ones: nearly identical, nearly parallel with another norm, nearly opposite,
    identical, a permutation (equal norms), a row of tiny norm (variance ~1e-6) and one of norm 1e3."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    x[1] = x[0] + 1e-9 * torch.randn(d, generator=g, dtype=F64)
    x[2] = x[0] * 1.5 + 1e-10 * torch.randn(d, generator=g, dtype=F64)
    x[3] = -x[0] * (1 + 1e-12)
    x[5] = x[4]
    x[6] = x[4].flip(0)
    x[7] = x[7] * 1e-3
    x[8] = x[8] * 1e3
    return x


def _exact_moments(x1: torch.Tensor, x2: torch.Tensor, i: int, j: int):
    with mpmath.workdps(60):
        a = [mpmath.mpf(float(v)) for v in x1[i]]
        b = [mpmath.mpf(float(v)) for v in x2[j]]
        d = len(a)
        aa, bb, ab = mpmath.fsum(v * v for v in a), mpmath.fsum(v * v for v in b), mpmath.fsum(p * q for p, q in zip(a, b))
        return {"c": ab / d, "det": (aa * bb - ab * ab) / d ** 2, "dist": (aa + bb - 2 * ab) / d, "diff": (aa - bb) / d}


def test_input_moments_match_mpmath_on_hard_rows() -> None:
    x = hard_rows()
    y = torch.cat([x[:10], torch.randn(5, 64, generator=torch.Generator().manual_seed(9), dtype=F64)])
    for x1, x2 in ((x, x), (x, y)):
        q1, q2, c, det, dist, diff = K.input_moments(x1, x2)
        got = {"c": c, "det": det, "dist": dist, "diff": diff}
        for i in range(x1.shape[0]):
            for j in range(x2.shape[0]):
                ref = _exact_moments(x1, x2, i, j)
                for name, value in got.items():
                    err = abs(mpmath.mpf(float(value[i, j])) - ref[name])
                    assert err <= 4 * U * abs(ref[name]) + 1e-300, (name, i, j, float(value[i, j]), ref[name])
        torch.testing.assert_close(q1.reshape(-1), torch.diagonal(c)[: x1.shape[0]] if x1 is x2 else q1.reshape(-1))


def test_identical_rows_have_zero_gaps_and_the_norm_as_covariance() -> None:
    x = hard_rows()
    q1, _, c, det, dist, diff = K.input_moments(x, x)
    for i, j in [(k, k) for k in range(20)] + [(4, 5), (5, 4)]:
        assert float(det[i, j]) == 0.0 and float(dist[i, j]) == 0.0 and float(diff[i, j]) == 0.0
        assert float(c[i, j]) == float(q1[i, 0])


def test_high_parts_product_is_exact() -> None:
    """Ozaki's splitting: the products of the high parts sum exactly, whatever order the matrix product takes."""
    x = hard_rows(12, 64)
    bits = (53 - 6) // 2
    h, _, _ = K._split_rows(x, bits)
    got = h @ h.T
    for i in range(12):
        for j in range(12):
            with mpmath.workdps(80):
                exact = mpmath.fsum(mpmath.mpf(float(a)) * mpmath.mpf(float(b)) for a, b in zip(h[i], h[j]))
            assert mpmath.mpf(float(got[i, j])) == exact


@pytest.mark.parametrize("activation,w,b,L", [("relu", 2.0, 0.1, 10), ("erf", 1.5, 0.1, 10), ("erf", 2.5, 0.0, 30)])
def test_joint_symmetric_kernels_match_mpmath_on_hard_rows(activation, w, b, L) -> None:
    """The joint call on 20 hard rows (the symmetric path in row blocks): every entry of both kernels to 1e-12; the
    tiny row with σ_b² = 0 (erf) at depth 30 included."""
    x = hard_rows(20, 8)
    nngp, ntk = learndyn.kernels(x, None, L, w, b, activation)
    assert torch.equal(nngp, nngp.T) and torch.equal(ntk, ntk.T)
    for got, output in ((nngp, "nngp"), (ntk, "ntk")):
        ref = kernel_reference(x, x, L, w, b, activation, output)
        for i in range(20):
            for j in range(i, 20):
                assert abs(mpmath.mpf(float(got[i, j])) - ref[i][j]) <= 1e-12 * abs(ref[i][j]) + 2.3e-308, (output, i, j)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_joint_call_equals_the_separate_results(activation) -> None:
    """``kernels`` is ``nngp_kernel`` and ``ntk_kernel`` in one pass: the same values, symmetric or not."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(40, 16, generator=g, dtype=F64), torch.randn(9, 16, generator=g, dtype=F64)
    for x2 in (None, y):
        pair = learndyn.kernels(x, x2, 5, 1.7, 0.2, activation)
        torch.testing.assert_close(pair.nngp, learndyn.function("nngp_kernel")(x, x2, 5, 1.7, 0.2, activation), rtol=0, atol=0)
        torch.testing.assert_close(pair.ntk, learndyn.function("ntk_kernel")(x, x2, 5, 1.7, 0.2, activation), rtol=0, atol=0)
    full = learndyn.kernels(x, x.clone(), 5, 1.7, 0.2, activation)  # the unblocked, unmirrored path
    half = learndyn.kernels(x, None, 5, 1.7, 0.2, activation)
    torch.testing.assert_close(half.nngp, full.nngp, rtol=1e-14, atol=0)
    torch.testing.assert_close(half.ntk, full.ntk, rtol=1e-14, atol=0)


def test_joint_call_gradient_is_finite_and_right() -> None:
    x = hard_rows(18, 3).requires_grad_(True)
    nngp, ntk = learndyn.kernels(x, None, 4, 2.0, 0.1, "relu")
    (grad,) = torch.autograd.grad((nngp + ntk).sum(), x)
    assert torch.isfinite(grad).all()
    y = torch.randn(17, 3, dtype=F64, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: learndyn.kernels(v, None, 2, 2.0, 0.1, "erf").ntk, (y,), eps=1e-6,
                                    atol=1e-7, rtol=1e-6)


def test_joint_call_bad_input_names_the_parameter() -> None:
    x = torch.randn(4, 3, dtype=F64)
    with pytest.raises(DomainError, match="sigma_w2"):
        learndyn.kernels(x, None, 2, -1.0, 0.1, "relu")
    with pytest.raises(DomainError, match="activation"):
        learndyn.kernels(x, None, 2, 1.0, 0.1, "tanh")
    with pytest.raises(DomainError, match="x2"):
        learndyn.kernels(x, torch.randn(4, 5, dtype=F64), 2, 1.0, 0.1, "relu")


@pytest.mark.parametrize("activation,w,b,L", [("relu", 2.0, 0.1, 10), ("erf", 2.5, 0.0, 30)])
def test_compiled_layers_match_mpmath_on_hard_rows(monkeypatch, activation, w, b, L) -> None:
    """The compiled layer step (what large compositions run from their second call on) keeps every entry within
    1e-12 of the 120-digit reference, on the hard rows; and it is what ran (the compiled step is cached)."""
    monkeypatch.setattr(K, "COMPILE_MIN_WORK", 1)
    monkeypatch.setenv("LEARNDYN_COMPILE", "1")
    x = hard_rows(20, 8)
    learndyn.kernels(x, None, L, w, b, activation)  # the first call runs eagerly
    nngp, ntk = learndyn.kernels(x, None, L, w, b, activation)
    layer = getattr(__import__("learndyn.generated.ntk", fromlist=["_"]), f"_kernel_layer_{activation}")
    assert (layer, "cpu", F64) in K._COMPILED and (layer, "cpu", F64) not in K._FAILED
    for got, output in ((nngp, "nngp"), (ntk, "ntk")):
        ref = kernel_reference(x, x, L, w, b, activation, output)
        for i in range(20):
            for j in range(i, 20):
                assert abs(mpmath.mpf(float(got[i, j])) - ref[i][j]) <= 1e-12 * abs(ref[i][j]) + 2.3e-308, (output, i, j)


def test_fast_erf_layer_hands_only_unsure_pairs_to_the_carried_layer(monkeypatch) -> None:
    """On generic rows the erf composition runs its fast layer on every pair and the carried layer only on the pairs
    whose det_T or dist_T the definitions would not give to 2^-46 (here: the nearly identical pair), and agrees
    with the carried layer to 1e-13 of the kernel's scale (an entry the NTK recursion itself cancels, Θ = 0.0016 beside
    K = 0.084, differs by more relative to itself: 3.6e-14 carried, 7.0e-14 fast against the 120-digit reference)."""
    generated = __import__("learndyn.generated.ntk", fromlist=["_"])
    x = torch.randn(60, 16, generator=torch.Generator().manual_seed(5), dtype=F64)
    x[1] = x[0] + 1e-9 * x[2]  # a nearly identical pair: its det_T cancels, so the carried layer must take it
    carried = K.compose(x, None, 4, 1.5, 0.05, "erf", generated._kernel_layer_erf, "both", "t")
    seen = []
    original = K._layer_step

    def counting(*args):
        seen.append(args[5].numel())  # c of the pairs handed over
        return original(*args)

    monkeypatch.setattr(K, "_layer_step", counting)
    monkeypatch.setenv("LEARNDYN_COMPILE", "0")
    hybrid = K.compose(x, None, 4, 1.5, 0.05, "erf", generated._kernel_layer_erf, "both", "t",
                       fast=generated._kernel_layer_erf_fast)
    assert 0 < sum(seen) < 0.05 * 60 * 60 * 4, sum(seen)  # at most the 60 × 60 pairs per layer are composed
    for a, b in zip(hybrid, carried):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13 * float(b.abs().max()))
