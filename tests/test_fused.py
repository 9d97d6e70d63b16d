"""The fused path of ``learndyn.function`` (large inputs, one compiled pass): the eager result to float64 round-off,
the same domain errors, eager below the threshold, for gradients, for iterative results and when switched off."""
from __future__ import annotations

import functools

import pytest
import torch

import learndyn
import learndyn.fused as fused
from learndyn.fused import FusedFunction, eligible, empty_output

F64 = torch.float64


def _small_threshold(monkeypatch) -> None:
    monkeypatch.setattr(fused, "MIN_ELEMENTS", 4096)
    monkeypatch.setenv("LEARNDYN_COMPILE", "1")


def test_which_results_are_fused() -> None:
    assert isinstance(learndyn.function("mode_trajectory"), FusedFunction)
    assert isinstance(learndyn.function("relu_kernel_map"), FusedFunction)
    for name in ("correlation_fixed_point", "deep_mode_time", "ntk_kernel", "mse_train_prediction"):
        assert not isinstance(learndyn.function(name), FusedFunction), name
    f = learndyn.function("mode_trajectory")
    assert f.__wrapped__ is __import__("learndyn.generated.linear", fromlist=["x"]).mode_trajectory
    assert "Strength of one mode" in f.__doc__ and f.__name__ == "mode_trajectory"
    assert learndyn.function("mode_trajectory") is f  # one per process: what it compiles is kept


def test_fused_equals_eager_to_round_off_and_checks_the_domain(monkeypatch) -> None:
    """mode_trajectory goes through exprel (expm1): inductor's own vectorised expm1 is exp(x) − 1, which loses ε/|x|
    near 0 (5e-13 of u here, where the exprel term dominates: s t/τ from 1e-8 to 1); the fused path matches eager
    torch to round-off."""
    _small_threshold(monkeypatch)
    f = learndyn.function("mode_trajectory")
    n = 20_000
    t = torch.logspace(0, 3, n, dtype=F64)
    s = torch.logspace(-8, -2, n, dtype=F64).flip(0)
    out = f(t=t, s=s, u0=0.05, tau=1.5)
    assert f.compiled, f._failed
    ref = f.__wrapped__(t=t, s=s, u0=0.05, tau=1.5)
    assert ((out - ref).abs() / ref.abs()).max() < 2e-15  # a few ulp
    again = f(t=2 * t, s=s, u0=0.07, tau=1.0)  # new values of the same signature: no recompile, still exact
    assert ((again - f.__wrapped__(t=2 * t, s=s, u0=0.07, tau=1.0)).abs() / again.abs()).max() < 2e-15
    assert len(f.compile_seconds) == 1
    bad = s.clone()
    bad[123] = -1.0
    with pytest.raises(ValueError, match=r"parameter 's' = -1.0 \(1 of 20000 elements\)"):
        f(t=t, s=bad, u0=0.05, tau=1.5)
    nan = t.clone()
    nan[7] = float("nan")
    with pytest.raises(ValueError, match="parameter 't'"):
        f(t=nan, s=s, u0=0.05, tau=1.5)
    f(t=t, s=bad, u0=0.05, tau=1.5, check=False)  # no check: no error
    learndyn.function("mode_trajectory", check=False)(t=t, s=bad, u0=0.05, tau=1.5)


def test_relation_is_checked_in_the_fused_pass(monkeypatch) -> None:
    _small_threshold(monkeypatch)
    f = learndyn.function("mode_learning_time")
    uf = torch.linspace(0.2, 0.9, 10_000, dtype=F64)
    out = f(s=1.0, u0=0.1, uf=uf, tau=2.0)
    assert f.compiled, f._failed
    assert torch.allclose(out, f.__wrapped__(s=1.0, u0=0.1, uf=uf, tau=2.0), rtol=2e-15, atol=0)
    with pytest.raises(ValueError, match="uf strictly between u0 and s"):
        f(s=1.0, u0=0.1, uf=uf * 2, tau=2.0)


def test_small_inputs_gradients_and_switch_stay_eager(monkeypatch) -> None:
    f = learndyn.function("variance_map")
    calls = []
    monkeypatch.setattr(FusedFunction, "_compile_call", lambda self, *a: calls.append(a) or (None, None))
    f(q=torch.rand(100, dtype=F64) + 0.1, sigma_w=1.0, sigma_b=0.1, mu2=1.0)  # below the threshold
    q = (torch.rand(2**20, dtype=F64) + 0.1).requires_grad_()
    out = f(q=q, sigma_w=1.0, sigma_b=0.1, mu2=1.0)  # a gradient is needed: eager, differentiable
    out.sum().backward()
    assert torch.allclose(q.grad, torch.full_like(q, 0.5))
    monkeypatch.setenv("LEARNDYN_COMPILE", "0")
    f(q=q.detach(), sigma_w=1.0, sigma_b=0.1, mu2=1.0)
    assert calls == []


def test_a_compile_failure_falls_back_to_eager(monkeypatch) -> None:
    _small_threshold(monkeypatch)
    module = __import__("learndyn.generated.signal_propagation", fromlist=["x"])
    f = FusedFunction("additive_noise_variance_map", module.additive_noise_variance_map,
                      module.DOMAINS["additive_noise_variance_map"])
    monkeypatch.setattr(fused, "compile_accurately", lambda fn: functools.partial(_boom))
    q = torch.rand(10_000, dtype=F64)
    with pytest.warns(RuntimeWarning, match="evaluated eagerly"):
        out = f(q=q, sigma_w=1.0, sigma_b=0.1, eps=0.2)
    assert torch.equal(out, module.additive_noise_variance_map(q, 1.0, 0.1, 0.2))
    assert not f.compiled


def _boom(*args, **kwargs):
    raise RuntimeError("no compiler")


def test_eligibility_and_output_buffer() -> None:
    module = __import__("learndyn.generated.ntk", fromlist=["x"])
    assert not eligible(module.ntk_kernel, module.DOMAINS["ntk_kernel"])
    assert eligible(module.erf_kernel_map, module.DOMAINS["erf_kernel_map"])
    buf = empty_output((3_000_000,), F64, torch.device("cpu"))
    assert buf.shape == (3_000_000,) and buf.dtype == F64
    buf.fill_(1.0)
    assert float(buf.sum()) == 3_000_000
