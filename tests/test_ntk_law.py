"""The exact-in-law network sampler of family 4 (``learndyn.verify.simulate.ntk_law``): it must give the kernels of
networks with explicit weights (:func:`~learndyn.verify.simulate.empirical_kernels`) in law — finite-width bias
and fluctuations included, so the comparison is made at widths 3 and 4 where both are large — and the per-layer
statistics it documents."""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.families.ntk_kernels import kernel_inputs
from learndyn.verify.simulate import empirical_kernels
from learndyn.verify.simulate.ntk_law import sampled_kernels, sampled_layers

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _max_z(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |z| of the difference of the entrywise means of two independent samples (networks on axis 0)."""
    z = (a.mean(0) - b.mean(0)) / torch.sqrt((a.var(0) + b.var(0)) / a.shape[0]).clamp(min=1e-300)
    return float(z.abs().max())


@pytest.mark.parametrize("activation,hidden,sigma_w2,sigma_b2,width", [("relu", 2, 2.0, 0.1, 4), ("erf", 2, 3.0, 0.1, 3)])
def test_sampled_networks_have_the_law_of_explicit_ones(activation, hidden, sigma_w2, sigma_b2, width) -> None:
    """Means and second moments of every entry of K̂ and Θ̂ agree with explicit-weight networks (10,000 each) within
    5 standard errors. Dropping the backward part that is correlated with the forward pass (``Q Eᵀ δ``), the
    projection ``P⊥`` of the free part, or sharing no bias across inputs moves some of them by 15–70 standard
    errors at these sizes."""
    x = kernel_inputs(0, d=5)
    kw = dict(hidden_layers=hidden, sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation=activation, width=width,
              networks=10000, device="cpu")
    real = empirical_kernels(x, seed=1, **kw)
    law = sampled_kernels(x, seed=2, **kw)
    for which in ("nngp", "ntk"):
        a, b = getattr(real, which), getattr(law, which)
        assert _max_z(a, b) < 5, which
        assert _max_z(a.square(), b.square()) < 5, which
    # the finite-width law is what is compared: at width 3-4 the mean NTK is far from the infinite-width one
    assert not torch.allclose(law.ntk.mean(0), sampled_kernels(x, seed=3, **{**kw, "width": 4096, "networks": 64}).ntk.mean(0),
                              rtol=0.02)


def test_no_hidden_layer_is_the_input_kernel_exactly() -> None:
    x1, x2 = kernel_inputs(1, d=7), kernel_inputs(2, d=7)[:3]
    k = sampled_kernels(x1, x2, hidden_layers=0, sigma_w2=1.7, sigma_b2=0.3, activation="erf", width=9, networks=3)
    exact = 1.7 * x1 @ x2.T / 7 + 0.3
    assert k.nngp.shape == (3, 4, 3)
    torch.testing.assert_close(k.nngp, exact.expand(3, 4, 3), rtol=1e-13, atol=0)
    torch.testing.assert_close(k.ntk, exact.expand(3, 4, 3), rtol=1e-13, atol=0)


def test_cross_kernels_are_the_blocks_of_the_joint_kernel() -> None:
    x1, x2 = kernel_inputs(3)[:2], kernel_inputs(4)[:3]
    kw = dict(hidden_layers=2, sigma_w2=1.5, sigma_b2=0.2, activation="relu", width=64, networks=5, seed=8)
    both = sampled_kernels(torch.cat([x1, x2]), **kw)
    cross = sampled_kernels(x1, x2, **kw)
    torch.testing.assert_close(cross.nngp, both.nngp[:, :2, 2:], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(cross.ntk, both.ntk[:, :2, 2:], rtol=1e-12, atol=1e-14)
    again = sampled_kernels(x1, x2, **kw)
    assert torch.equal(again.ntk, cross.ntk)
    assert not torch.equal(sampled_kernels(x1, x2, **{**kw, "seed": 9}).ntk, cross.ntk)


def test_layer_statistics() -> None:
    """``kernel[:, 0]`` is the deterministic ``K¹``; the last kernel is the NNGP estimate; the derivative kernel's
    mean is ``σ_w² E[φ'(u_a) φ'(u_b)]`` over the layer's units (for ReLU at one hidden layer: ``σ_w²`` times the
    orthant probability ``1/4 + arcsin(ρ)/(2π)``, written out here)."""
    x = kernel_inputs(5)[:2]
    w, b = 1.3, 0.2
    s = sampled_layers(x, hidden_layers=1, sigma_w2=w, sigma_b2=b, activation="relu", width=512, networks=400, seed=4,
                       ntk=True)
    k1 = w * x @ x.T / x.shape[1] + b
    assert s.kernel.shape == (400, 2, 2, 2) and s.derivative.shape == (400, 1, 2, 2) and s.ntk.shape == (400, 2, 2)
    torch.testing.assert_close(s.kernel[:, 0], k1.expand(400, 2, 2), rtol=1e-13, atol=0)
    rho = float(k1[0, 1] / torch.sqrt(k1[0, 0] * k1[1, 1]))
    h = s.derivative[:, 0]
    expect = torch.tensor([[w / 2, w * (0.25 + math.asin(rho) / (2 * math.pi))],
                           [w * (0.25 + math.asin(rho) / (2 * math.pi)), w / 2]], dtype=F64)
    se = h.std(0) / math.sqrt(400)
    assert float(((h.mean(0) - expect).abs() / se).max()) < 5
    no_ntk = sampled_layers(x, hidden_layers=1, sigma_w2=w, sigma_b2=b, activation="relu", width=512, networks=400,
                            seed=4)
    assert no_ntk.ntk is None


def test_mean_derivative_kernel_is_the_jacobians_mean_squared_singular_value() -> None:
    """For explicit weights, ``‖(σ_w/√N) W diag φ'(z)‖_F²/N`` averaged over ``W`` is ``(σ_w²/N) Σ φ'(z)²``: the
    diagonal of ``Ĥ`` (the estimator of ``chi1``) is the mean squared singular value of the layer-to-layer Jacobian."""
    g = torch.Generator().manual_seed(0)
    n, w = 256, 2.5
    z = torch.randn(n, generator=g, dtype=F64) * 0.8
    dphi = 2 / math.sqrt(math.pi) * torch.exp(-z * z)
    weights = torch.randn(200, n, n, generator=g, dtype=F64)
    jac = math.sqrt(w / n) * weights * dphi                               # (draws, N, N): W diag φ'
    msv = jac.square().sum((1, 2)) / n
    expect = w / n * dphi.square().sum()
    assert abs(float(msv.mean() - expect)) < 5 * float(msv.std() / math.sqrt(200))


def test_validation_names_the_parameter() -> None:
    x = kernel_inputs(0)
    base = dict(hidden_layers=1, sigma_w2=1.0, sigma_b2=0.1, activation="erf", width=8, networks=2)
    for kw, name in (({"hidden_layers": -1}, "hidden_layers"), ({"width": 0}, "width"), ({"networks": 0}, "networks"),
                     ({"sigma_w2": 0.0}, "sigma_w2"), ({"sigma_b2": -1.0}, "sigma_b2"), ({"activation": "tanh"}, "activation")):
        with pytest.raises(ValueError, match=name):
            sampled_kernels(x, **(base | kw))
    with pytest.raises(ValueError, match="x"):
        sampled_layers(torch.ones(3), **base)
    with pytest.raises(ValueError, match="x2"):
        sampled_kernels(x, torch.ones(2, 3), **base)
