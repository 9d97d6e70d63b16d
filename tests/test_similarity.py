"""Properties of :mod:`learndyn.similarity` (hypothesis, derandomized; each example builds its activations from a
drawn integer seed): invariances, symmetry, exactly 1 for identical representations, ranges, the exact mean
``E[Σρ²] = p q/(n − 1)`` of independent Gaussian representations against sampled data, batching, errors, gradients.

Accuracy against a 50-digit mpmath reference: tests/test_similarity_reference.py; google/svcca:
tests/test_similarity_google.py.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import learndyn
from learndyn.similarity import cca, linear_cka, pwcca, pwcca_weights, svcca, unbiased_linear_cka
from learndyn.similarity.compensated import accurate_matmul, two_sum

F64 = torch.float64
# tiny matrices: torch's intra-op threads only add synchronisation (conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")
PROPERTY = settings(derandomize=True, deadline=None, max_examples=25, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def gaussian(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def related(seed: int, n: int, p: int, q: int, noise: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """``a (n, p)`` Gaussian and ``b (n, q)`` sharing three latent directions with it plus noise: generic
    canonical correlations strictly between 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, p, dtype=F64, generator=g)
    k = min(3, p)
    b = a[:, :k] @ torch.randn(k, q, dtype=F64, generator=g) + noise * torch.randn(n, q, dtype=F64, generator=g)
    return a, b


def conditioned(seed: int, size: int, log10_cond: float) -> torch.Tensor:
    """A random ``size × size`` matrix with condition number ``10**log10_cond`` (random singular vectors)."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(size, size, dtype=F64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(size, size, dtype=F64, generator=g))
    return u @ torch.diag(torch.logspace(0, -log10_cond, size, dtype=F64)) @ v.T


shapes = st.tuples(st.integers(8, 40), st.integers(1, 7), st.integers(1, 7))
seeds = st.integers(0, 2**31 - 1)


# -- invariances -------------------------------------------------------------------------------------------------

@PROPERTY
@given(shapes, seeds, st.floats(0.0, 3.0), st.floats(-10.0, 10.0))
@example((12, 3, 4), 0, 3.0, 10.0)
def test_cca_and_full_rank_svcca_are_invariant_to_invertible_affine_maps(shape, seed, log10_cond, shift) -> None:
    """``a → a M + c`` with ``cond(M)`` up to 1e3 (the shift kept to the data's scale, so that rounding the mapped
    data itself stays below the tolerance)."""
    n, p, q = shape
    a, b = related(seed, n, p, q)
    m = conditioned(seed + 1, p, log10_cond)
    mapped = a @ m + shift
    before, after = cca(a, b), cca(mapped, b)
    assert (before - after).abs().max() <= 1e-10, (before, after)
    assert abs(float(svcca(a, b, None) - svcca(mapped, b, 1.0))) <= 1e-10
    assert abs(float(svcca(a, b, None) - svcca(a, b @ conditioned(seed + 2, q, log10_cond) - shift, None))) <= 1e-10


@PROPERTY
@given(shapes, seeds, st.floats(-6.0, 6.0), st.floats(-10.0, 10.0))
@example((9, 7, 2), 3, -6.0, -10.0)
def test_cka_is_invariant_to_orthogonal_maps_isotropic_scaling_and_translation(shape, seed, log10_scale, shift) -> None:
    n, p, q = shape
    a, b = related(seed, n, p, q)
    o, _ = torch.linalg.qr(gaussian(seed + 1, p, p))
    mapped = 10.0**log10_scale * (a @ o + shift)
    for f in (linear_cka, unbiased_linear_cka):
        assert abs(float(f(a, b) - f(mapped, b))) <= 1e-12, f.__name__
        assert abs(float(f(a, b) - f(a, b * 10.0**-log10_scale))) <= 1e-12, f.__name__


def test_cka_is_not_invariant_to_general_invertible_maps_but_cca_is() -> None:
    """The difference between the two families (Kornblith et al.): an anisotropic map changes CKA."""
    a, b = related(5, 60, 5, 4)
    m = torch.diag(torch.tensor([1.0, 1.0, 1.0, 10.0, 0.1], dtype=F64))
    assert abs(float(linear_cka(a, b) - linear_cka(a @ m, b))) > 1e-2
    assert (cca(a, b) - cca(a @ m, b)).abs().max() <= 1e-12


# -- symmetry, identity, range ---------------------------------------------------------------------------------

@PROPERTY
@given(shapes, seeds, st.sampled_from([None, 1, 2, 0.5, 0.9, 1.0]))
def test_symmetric_in_the_two_representations(shape, seed, keep) -> None:
    n, p, q = shape
    a, b = related(seed, n, p, q)
    assert (cca(a, b) - cca(b, a)).abs().max() <= 1e-12
    if not isinstance(keep, int) or keep <= min(p, q):
        assert abs(float(svcca(a, b, keep) - svcca(b, a, keep))) <= 1e-12
    for f in (linear_cka, unbiased_linear_cka):
        assert abs(float(f(a, b) - f(b, a))) <= 1e-14, f.__name__


@PROPERTY
@given(st.integers(4, 30), st.integers(1, 12), seeds, st.booleans())
@example(5, 12, 0, True)
def test_identical_representations_give_exactly_one(n, p, seed, constant_neuron) -> None:
    a = gaussian(seed, n, p)
    if constant_neuron:
        a[:, 0] = 0.25
    b = a.clone()  # equal values, other memory
    if torch.linalg.matrix_rank(a - a.mean(0)) == 0:
        return
    rank = int(torch.linalg.matrix_rank(a - a.mean(0)))
    coefficients = cca(a, b)
    assert torch.equal(coefficients[:rank], torch.ones(rank, dtype=F64))
    assert torch.equal(coefficients[rank:], torch.zeros(coefficients.numel() - rank, dtype=F64))
    for value in (svcca(a, b, None), svcca(a, b, 0.99), pwcca(a, b), linear_cka(a, b)):
        assert value.item() == 1.0
    if n >= 4:
        assert unbiased_linear_cka(a, b).item() == 1.0


@PROPERTY
@given(st.integers(8, 40), st.integers(1, 7), seeds, st.floats(0.0, 2.0), st.floats(-6.0, 6.0))
@example(8, 7, 0, 2.0, 6.0)
def test_mapped_representations_give_one_without_the_identity_shortcut(n, p, seed, log10_cond, log10_scale) -> None:
    """Not bitwise equal, so the identical-pair shortcut does not apply: ``a`` against ``a M`` (``M`` invertible,
    ``cond(M)`` up to 100; full rank, ``p ≤ n − 1``) has every canonical correlation 1, so CCA, SVCCA at full rank and
    PWCCA give 1; against ``c · a O`` (``O`` orthogonal, ``c ≠ 1``) linear CKA (biased and unbiased) gives 1, to 1e-13."""
    a = gaussian(seed, n, p)
    m = 3.7 * conditioned(seed + 1, p, log10_cond)  # the factor: never the identity, even at p = 1
    mapped = a @ m
    assert not torch.equal(mapped, a)
    assert (cca(a, mapped) - 1).abs().max() <= 1e-13
    for value in (svcca(a, mapped, None), svcca(a, mapped, 1.0), svcca(mapped, a, p), pwcca(a, mapped)):
        assert abs(value.item() - 1) <= 1e-13, value
    o, _ = torch.linalg.qr(gaussian(seed + 2, p, p))
    rotated = 1.3 * 10.0**log10_scale * (a @ o)
    assert not torch.equal(rotated, a)
    assert abs(linear_cka(a, rotated).item() - 1) <= 1e-13
    if n >= 4:
        assert abs(unbiased_linear_cka(a, rotated).item() - 1) <= 1e-13


@PROPERTY
@given(shapes, seeds, st.booleans(), st.booleans())
@example((6, 7, 7), 1, True, True)
def test_values_lie_in_their_ranges(shape, seed, constant, duplicate) -> None:
    n, p, q = shape
    a, b = related(seed, n, p, q, noise=0.3)
    if constant and p > 1:
        a[:, -1] = 7.0
    if duplicate and q > 1:
        b[:, -1] = b[:, 0]
    rho = cca(a, b)
    assert ((rho >= 0) & (rho <= 1)).all() and (rho[:-1] >= rho[1:]).all()
    for value in (svcca(a, b, None), svcca(a, b, 0.9), pwcca(a, b), linear_cka(a, b)):
        assert 0.0 <= value.item() <= 1.0
    if n >= 4:
        assert -1.0 <= unbiased_linear_cka(a, b).item() <= 1.0
    alpha, _ = pwcca_weights(a, b)
    assert abs(float(alpha.sum()) - 1.0) <= 1e-14 and (alpha >= 0).all()


def test_unbiased_cka_is_near_zero_for_independent_representations_where_the_biased_one_is_not() -> None:
    """At n = 20 examples of 50 independent neurons each, the biased estimate sits far above 0 (its O(p/n) bias);
    the unbiased one scatters around 0 (both signs)."""
    a, b = gaussian(0, 200, 20, 50), gaussian(1, 200, 20, 50)
    biased, unbiased = linear_cka(a, b), unbiased_linear_cka(a, b)
    assert biased.mean() > 0.5
    se = unbiased.std() / math.sqrt(unbiased.numel())
    assert abs(float(unbiased.mean())) <= 5 * se and (unbiased < 0).any() and (unbiased > 0).any()


# -- the exact mean of Σρ² for independent Gaussian representations ------------------------------------------------

@pytest.mark.parametrize("n, p, q", [(10, 3, 4), (30, 5, 5), (25, 12, 3)])
def test_mean_sum_of_squared_correlations_of_independent_gaussians_is_pq_over_n_minus_1(n, p, q) -> None:
    """``E[Σ ρ_i²] = E tr(Π_a Π_b) = p q/(n − 1)``: centred Gaussian data span a uniformly random subspace of the
    ``(n − 1)``-dimensional space orthogonal to ``1``, so ``E Π_b = q/(n − 1)`` times its projector. 4000 independent
    pairs in one batched call; the standard error is estimated from the sample (SE = sd/√4000, 0.24–0.38 % of the
    mean here; the means land 0.6–1.0 SE from the theory) and the mean must lie within k = 5 SE (false-failure
    chance ≈ 6e-7). A theory off by 3 % fails."""
    pairs = 4000
    sums = cca(gaussian(11 + n, pairs, n, p), gaussian(12 + p, pairs, n, q)).square().sum(dim=-1)
    mean, se = float(sums.mean()), float(sums.std() / math.sqrt(pairs))
    theory = p * q / (n - 1)
    assert abs(mean - theory) <= 5 * se, (mean, theory, se)
    assert abs(mean - 1.03 * theory) > 5 * se and abs(mean - 0.97 * theory) > 5 * se  # it would see a 3 % error


# -- batching, dtypes, devices ----------------------------------------------------------------------------------

def test_all_pairs_of_layers_in_one_call_equal_the_pairs_one_at_a_time() -> None:
    layers_a, layers_b = gaussian(0, 4, 50, 6), gaussian(1, 3, 50, 5)
    layers_b[1] = layers_a[2, :, :5] @ gaussian(2, 5, 5)  # one pair shares a whole subspace
    for f in (lambda a, b: cca(a, b), lambda a, b: svcca(a, b, 0.95), pwcca, linear_cka, unbiased_linear_cka):
        batched = f(layers_a[:, None], layers_b[None])
        for i in range(4):
            for j in range(3):
                assert torch.allclose(batched[i, j], f(layers_a[i], layers_b[j]), rtol=0, atol=1e-13)
    assert cca(layers_a[:, None], layers_b[None]).shape == (4, 3, 5)
    assert abs(float(svcca(layers_a[2, :, :5], layers_b[1], None)) - 1.0) < 1e-13


def test_every_pair_of_one_network_computes_each_basis_once_with_the_same_values() -> None:
    acts = gaussian(3, 5, 40, 8)
    shared = svcca(acts[:, None], acts[None], 0.9)
    separate = svcca(acts[:, None], acts[None].clone(), 0.9)
    assert torch.equal(shared, separate)
    assert torch.equal(torch.diagonal(shared), torch.ones(5, dtype=F64))
    assert torch.equal(svcca(acts.float()[:, None], acts.float()[None], 0.9),
                       svcca(acts.float()[:, None], acts.float()[None].clone(), 0.9))
    # memory shared without the autograd graph (x.detach()) must not share gradients
    x = acts.clone().requires_grad_()
    pwcca(x[:, None], x.detach()[None]).sum().backward()
    through_view = x.grad.clone()
    x.grad = None
    pwcca(x[:, None], x.detach().clone()[None]).sum().backward()
    assert torch.allclose(through_view, x.grad, rtol=0, atol=1e-14)


def test_dtypes_in_and_out() -> None:
    a, b = related(0, 30, 4, 3)
    assert cca(a.float(), b.float()).dtype == torch.float32
    assert svcca(a.float(), b, None).dtype == F64
    ints = torch.arange(60).reshape(20, 3) % 7
    assert linear_cka(ints, ints * 2 + 1).dtype == F64 and linear_cka(ints, ints * 2 + 1).item() == pytest.approx(1.0)
    import numpy as np
    assert abs(float(svcca(a.numpy(), b.numpy(), None) - svcca(a, b, None))) == 0.0
    assert isinstance(np.asarray(cca(a.numpy(), b.numpy())), np.ndarray)


def test_constant_representations_have_no_similarity() -> None:
    a, b = torch.full((10, 3), 2.5, dtype=F64), gaussian(0, 10, 2)
    assert torch.equal(cca(a, b), torch.zeros(2, dtype=F64))
    for value in (svcca(a, b, None), pwcca(a, b), pwcca(b, a), linear_cka(a, b), unbiased_linear_cka(a, b)):
        assert math.isnan(value.item())


def test_more_neurons_than_examples() -> None:
    """n = 6 examples span at most 5 centred directions: 12 and 9 neurons give min(5, 5) = 5 coefficients, and any
    two such layers span the same space (CCA cannot tell them apart: Kornblith et al.'s point); CKA can."""
    a, b = gaussian(0, 6, 12), gaussian(1, 6, 9)
    rho = cca(a, b)
    assert rho.shape == (6,) and torch.allclose(rho[:5], torch.ones(5, dtype=F64), atol=1e-14) and rho[5] == 0
    assert linear_cka(a, b) < 0.9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_agrees_with_cpu() -> None:
    a, b = related(0, 300, 20, 16)
    layers = gaussian(1, 6, 300, 20)
    for f in (lambda a, b: cca(a, b), lambda a, b: svcca(a, b, 0.99), pwcca, linear_cka, unbiased_linear_cka):
        for x, y in ((a, b), (layers[:, None], layers[None])):
            on_gpu = f(x.cuda(), y.cuda())
            assert on_gpu.device.type == "cuda"
            assert torch.allclose(on_gpu.cpu(), f(x, y), rtol=0, atol=1e-12)


# -- errors ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, kwargs, message", [
    (torch.zeros(10, 3), torch.zeros(9, 3), {}, r"a has 10 examples \(shape \(10, 3\)\) and b has 9"),
    (torch.zeros(3, 10), torch.zeros(4, 10), {}, r"\(neurons, examples\) as in google/svcca"),
    (torch.zeros(1, 3), torch.zeros(1, 2), {}, r"1 examples .* at least 2 are needed"),
    (torch.tensor([[1.0, float("nan")], [2.0, 3.0]]), torch.zeros(2, 2), {},
     r"a \(a float32 tensor of shape \(2, 2\)\) has 1 non-finite entries .* index \(0, 1\) = nan"),
    (torch.zeros(4, 2), torch.tensor([[float("inf")]] * 4), {}, r"b .* non-finite .* = inf"),
    (torch.zeros(5), torch.zeros(5, 2), {}, r"a is a float32 tensor of shape \(5,\): .* at least 2 dimensions"),
    ("acts", torch.zeros(5, 2), {}, r"a = 'acts' must be a real tensor"),
    (torch.zeros(5, 2, dtype=torch.complex64), torch.zeros(5, 2), {}, r"must be real numbers"),
    (torch.zeros(2, 5, 2), torch.zeros(3, 5, 2), {}, r"batch dimensions of a \(2,\) and b \(3,\) .* do not broadcast"),
    (torch.zeros(5, 0), torch.zeros(5, 2), {}, r"at least one neuron"),
])
def test_bad_activations_raise_errors_that_say_what_is_wrong(a, b, kwargs, message) -> None:
    for f in (cca, svcca, pwcca, linear_cka):
        with pytest.raises(learndyn.DomainError, match=message):
            f(a, b, **kwargs)


@pytest.mark.parametrize("keep, message", [
    (0, r"keep = 0 directions is out of range: it must be between 1 and 4 \(a: .* = 4, b: .* = 6\)"),
    (5, r"keep = 5 directions is out of range"),
    (0.0, r"keep = 0.0 as a fraction of the variance must lie in \(0, 1\]"),
    (1.5, r"keep = 1.5 as a fraction"),
    (float("nan"), r"keep = nan as a fraction"),
    (True, r"keep = True must be an int"),
    ("99%", r"keep = '99%' must be an int"),
])
def test_keep_out_of_range_is_an_error(keep, message) -> None:
    a, b = gaussian(0, 7, 4), gaussian(1, 7, 8)
    with pytest.raises(learndyn.DomainError, match=message):
        svcca(a, b, keep)


def test_unbiased_cka_needs_four_examples_and_rtol_is_checked() -> None:
    with pytest.raises(learndyn.DomainError, match=r"3 examples .* at least 4 .* n − 3"):
        unbiased_linear_cka(gaussian(0, 3, 2), gaussian(1, 3, 2))
    with pytest.raises(learndyn.DomainError, match=r"rtol = -1.0 must be a float in \[0, 1\)"):
        cca(gaussian(0, 5, 2), gaussian(1, 5, 2), rtol=-1.0)


def test_rank_tolerance_is_the_stated_one() -> None:
    """Singular values at or below ``max(n, p) ε σ_max`` are zero: a neuron carrying 1e-13 of the main direction's
    scale counts, one carrying 1e-16 (below 10 ε) does not — unless rtol says otherwise."""
    g = gaussian(0, 10, 3)
    base = g[:, :1]
    for tiny, kept in ((1e-13, 2), (1e-16, 1)):
        a = torch.cat([base, tiny * g[:, 1:2]], dim=1)
        assert int((cca(a, a.clone() + 0.0 * a) > 0).sum()) == kept
        assert int((cca(a, g) > 0).sum()) == kept
    a = torch.cat([base, 1e-10 * g[:, 1:2]], dim=1)
    assert int((cca(a, g, rtol=1e-9) > 0).sum()) == 1


# -- gradients ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, f", [
    ("cca", lambda a, b: cca(a, b)), ("svcca full", lambda a, b: svcca(a, b, None)),
    ("svcca keep 2", lambda a, b: svcca(a, b, 2)), ("svcca keep 0.8", lambda a, b: svcca(a, b, 0.8)),
    ("pwcca", pwcca), ("linear_cka", linear_cka), ("unbiased_linear_cka", unbiased_linear_cka),
])
@pytest.mark.parametrize("n, p, q", [(15, 4, 3), (6, 9, 2)])
def test_gradients_match_finite_differences(name, f, n, p, q) -> None:
    a, b = related(7, n, p, q, noise=0.8)
    assert torch.autograd.gradcheck(f, (a.requires_grad_(), b.requires_grad_()), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gradient_is_finite_at_repeated_singular_values_inside_the_kept_set() -> None:
    """All singular values of ``a`` equal: torch's SVD backward divides by their gaps (NaN), the subspace
    derivative here needs only the gaps between kept and dropped directions; SVCCA at full rank is smooth there."""
    z = gaussian(0, 12, 3)
    q, _ = torch.linalg.qr(z - z.mean(0))
    a, b = (2 * q).requires_grad_(), gaussian(1, 12, 3).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: svcca(a, b, None), (a, b), eps=1e-6, atol=1e-7)
    ac = a - a.mean(0)
    u, _, _ = torch.linalg.svd(ac, full_matrices=False)
    torch.linalg.svdvals(u.T @ torch.linalg.qr(b.detach() - b.detach().mean(0)).Q).sum().backward()
    assert not torch.isfinite(a.grad).all()  # the naive route


def test_gradient_at_identical_representations_is_zero_and_pwcca_stays_finite_near_ties() -> None:
    a = gaussian(2, 10, 3).requires_grad_()
    for f in (lambda x: svcca(x, x.detach().clone(), None), lambda x: pwcca(x, x.detach().clone()),
              lambda x: linear_cka(x, x.detach().clone())):
        a.grad = None
        f(a).backward()
        assert torch.equal(a.grad, torch.zeros_like(a))
    layers = gaussian(3, 4, 20, 3).requires_grad_()
    pwcca(layers[:, None], layers[None]).sum().backward()  # zero-padded and tied singular values in the batch
    assert torch.isfinite(layers.grad).all()


def test_gradient_is_undefined_where_the_truncation_falls_on_a_tie() -> None:
    """Keeping 2 of 3 equal singular values: the kept subspace is not defined; the gradient is 1/gap with the gap
    at round-off (about 1e13 here), inf/NaN at an exact tie — never a plausible finite number."""
    z = gaussian(0, 12, 3)
    q, _ = torch.linalg.qr(z - z.mean(0))
    a = (2 * q).requires_grad_()
    svcca(a, gaussian(1, 12, 3), 2).backward()
    assert not torch.isfinite(a.grad).all() or a.grad.abs().max() > 1e8


# -- the error-free arithmetic -------------------------------------------------------------------------------------

@settings(derandomize=True, deadline=None, max_examples=30, database=None)
@given(st.integers(1, 300), seeds, st.floats(0.0, 12.0))
@example(300, 0, 12.0)
def test_accurate_matmul_is_exact_to_about_eps_squared(k, seed, spread) -> None:
    """Against exact rational arithmetic (Python fractions of the float64 inputs): hi + lo within the stated
    ``k ε 2^{−2t}`` of ``max|x| max|y|`` (``t = ⌊(53 − ⌈log2 k⌉)/2⌋``; below ``1e-26`` here) of the exact product,
    entries spanning ``10**spread`` in magnitude."""
    from fractions import Fraction
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, k, dtype=F64, generator=g) * 10.0 ** (spread * torch.rand(3, k, dtype=F64, generator=g))
    y = torch.randn(k, 2, dtype=F64, generator=g) * 10.0 ** (-spread * torch.rand(k, 2, dtype=F64, generator=g))
    hi, lo = accurate_matmul(x, y)
    t = (53 - max(1, math.ceil(math.log2(max(k, 2))))) // 2
    scale = float(x.abs().max() * y.abs().max())
    for i in range(3):
        for j in range(2):
            exact = sum(Fraction(float(x[i, t])) * Fraction(float(y[t, j])) for t in range(k))
            err = abs(Fraction(float(hi[i, j])) + Fraction(float(lo[i, j])) - exact)
            assert err <= 4 * k * 2.0**-52 * 2.0 ** (-2 * t) * scale, (i, j, float(err), scale)
    s, e = two_sum(torch.tensor([1e16], dtype=F64), torch.tensor([1.0 + 2**-30], dtype=F64))
    assert Fraction(float(s)) + Fraction(float(e)) == Fraction(1e16) + Fraction(1.0 + 2**-30)
