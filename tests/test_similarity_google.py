""":mod:`learndyn.similarity` against google/svcca, the implementation people compare with, on the same activations.

google/svcca is not vendored. Its arithmetic — ``cca_core.get_cca_similarity`` and ``pwcca.compute_pwcca`` as of
commit 1f3fbf1 (read with the search tool) — is re-implemented below, step for step in numpy, to show where it
agrees with the definitions and where it does not; with ``$LEARNDYN_SVCCA_PATH`` pointing to a checkout, the first
test checks that the re-implementation reproduces google's own functions bit for bit.

Findings (the README's "Representation similarity" section quotes them):

- well-conditioned activations (n = 2000, 50 against 40 neurons): the coefficients agree to 3e-14;
- mixed neurons of condition number κ, against the 50-digit reference: κ = 1e2, google off by up to 5e-12
  (``epsilon=0``) and 8e-8 (its tutorial's ``epsilon=1e-10``); κ = 1e4: 2e-6…1.3e-5 and 3e-4…7e-4; κ = 1e6, 1e8:
  ``LinAlgError`` (10 of 12 runs) or coefficients off by 0.84 and 4.4; learndyn within 8e-16 at every κ;
- ``epsilon > 0`` removes small-variance neurons (2 of 6 neurons spread over 8 decades: coefficients off by 0.49);
  ``epsilon = 0`` with a constant neuron raises ``LinAlgError`` in 8 of 12 draws;
- more neurons than examples: refused (an assertion on the orientation);
- its ``"mean"`` averages the coefficients holding 98 % of their sum (0.645 where the mean of all is 0.543);
- PWCCA: directions without ``Σ^{-1/2}``, weights from uncentred activations, the weighting side chosen by neuron
  count: 0.726 where the definition gives 0.607, 0.665 after a constant shift of the neurons (the definition does
  not move), and an ``IndexError`` when ``acts1`` is the wider one.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import torch

from learndyn.similarity import cca, pwcca, svcca
from test_similarity_reference import mp_cca_covariance, mp_pwcca  # the 50-digit reference

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True, scope="module")
def fifty_digits():
    with mp.workdps(50):
        yield


# -- google/svcca's arithmetic, re-implemented (activations are (neurons, datapoints) there) -----------------------

def google_get_cca_similarity(acts1: np.ndarray, acts2: np.ndarray, epsilon: float = 0.0,
                              threshold: float = 0.98) -> dict:
    """``cca_core.get_cca_similarity(acts1, acts2, epsilon, threshold, compute_coefs=True)``'s arithmetic."""
    assert acts1.shape[1] == acts2.shape[1], "dimensions don't match"
    assert acts1.shape[0] < acts1.shape[1], "input must be number of neurons by datapoints"
    numx, numy = acts1.shape[0], acts2.shape[0]
    covariance = np.cov(acts1, acts2)
    sxx, sxy = covariance[:numx, :numx], covariance[:numx, numx:]
    syx, syy = covariance[numx:, :numx], covariance[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx /= xmax
    syy /= ymax
    sxy /= np.sqrt(xmax * ymax)
    syx /= np.sqrt(xmax * ymax)
    x_idxs, y_idxs = np.abs(np.diagonal(sxx)) >= epsilon, np.abs(np.diagonal(syy)) >= epsilon  # remove_small
    sxx, sxy, syy = sxx[x_idxs][:, x_idxs], sxy[x_idxs][:, y_idxs], syy[y_idxs][:, y_idxs]
    sxx += epsilon * np.eye(sxx.shape[0])
    syy += epsilon * np.eye(syy.shape[0])

    def sqrt_psd(m: np.ndarray) -> np.ndarray:  # positivedef_matrix_sqrt
        w, v = np.linalg.eigh(m)
        with np.errstate(invalid="ignore"):  # a negative eigenvalue of round-off: NaN, as there
            root = np.sqrt(w)
        return np.dot(v, np.dot(np.diag(root), np.conj(v).T))

    invsqrt_xx, invsqrt_yy = sqrt_psd(np.linalg.pinv(sxx)), sqrt_psd(np.linalg.pinv(syy))
    u, s, v = np.linalg.svd(np.dot(invsqrt_xx, np.dot(sxy, invsqrt_yy)))
    s = np.abs(s)
    idx = next((i for i in range(len(s)) if np.sum(s[:i]) / np.sum(s) >= threshold), None)  # sum_threshold
    return {"cca_coef1": s, "mean": np.mean(s[:idx]), "coef_x": u.T, "coef_y": v, "x_idxs": x_idxs,
            "y_idxs": y_idxs, "neuron_means1": np.mean(acts1, axis=1, keepdims=True),
            "neuron_means2": np.mean(acts2, axis=1, keepdims=True)}


def google_compute_pwcca(acts1: np.ndarray, acts2: np.ndarray, epsilon: float = 0.0) -> tuple:
    """``pwcca.compute_pwcca(acts1, acts2, epsilon)``'s arithmetic, including its use of ``acts1`` in the branch
    that should use ``acts2``."""
    r = google_get_cca_similarity(acts1, acts2, epsilon)
    if np.sum(r["x_idxs"]) <= np.sum(r["y_idxs"]):
        means = r["neuron_means1"][r["x_idxs"]]
        dirns = np.dot(r["coef_x"], acts1[r["x_idxs"]] - means) + means
        acts, idxs = acts1, r["x_idxs"]
    else:
        means = r["neuron_means2"][r["y_idxs"]]
        dirns = np.dot(r["coef_y"], acts1[r["y_idxs"]] - means) + means  # (sic) acts1
        acts, idxs = acts2, r["y_idxs"]
    p, _ = np.linalg.qr(dirns.T)
    weights = np.sum(np.abs(np.dot(p.T, acts[idxs].T)), axis=1)
    weights = weights / np.sum(weights)
    return np.sum(weights * r["cca_coef1"]), weights, r["cca_coef1"]


def google(a: torch.Tensor, b: torch.Tensor, **kw) -> dict:
    """google's CCA of learndyn-layout activations ``(examples, neurons)``."""
    return google_get_cca_similarity(a.numpy().T.copy(), b.numpy().T.copy(), **kw)


# -- activations -------------------------------------------------------------------------------------------------

def related(seed: int, n: int, p: int, q: int, shared: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, max(p, q, shared), dtype=F64, generator=g)
    a = z[:, :p]
    k = min(shared, p)
    b = z[:, :k] @ torch.randn(k, q, dtype=F64, generator=g) + torch.randn(n, q, dtype=F64, generator=g)
    return a, b


def mixed(seed: int, log10_cond: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``n = 100`` examples, 8 neurons mixed by a matrix of condition number ``10**log10_cond``; 6 related ones."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(100, 8, dtype=F64, generator=g)
    u, _ = torch.linalg.qr(torch.randn(8, 8, dtype=F64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(8, 8, dtype=F64, generator=g))
    a = z @ (u @ torch.diag(torch.logspace(0, -log10_cond, 8, dtype=F64)) @ v)
    b = z[:, :3] @ torch.randn(3, 6, dtype=F64, generator=g) + 0.7 * torch.randn(100, 6, dtype=F64, generator=g)
    return a, b


def _error(coefficients: np.ndarray, reference: list) -> float:
    ref = np.array([float(x) for x in reference])
    return float(np.abs(coefficients[: len(ref)] - ref).max())


# -- the re-implementation is google's arithmetic ------------------------------------------------------------------

def _google_modules():
    where = os.environ.get("LEARNDYN_SVCCA_PATH")
    if not where:
        pytest.skip("set LEARNDYN_SVCCA_PATH to a checkout of github.com/google/svcca")
    folder = Path(where) if Path(where).is_dir() else Path(where).parent
    sys.path.insert(0, str(folder))
    try:
        specs = {name: importlib.util.spec_from_file_location(name, folder / f"{name}.py")
                 for name in ("cca_core", "pwcca")}
        modules = {}
        for name, spec in specs.items():
            modules[name] = importlib.util.module_from_spec(spec)
            sys.modules[name] = modules[name]
            spec.loader.exec_module(modules[name])
        return modules["cca_core"], modules["pwcca"]
    finally:
        sys.path.remove(str(folder))


def test_the_reimplementation_reproduces_google_svcca_bit_for_bit() -> None:
    cca_core, pwcca_module = _google_modules()
    for seed, p, q, eps in ((0, 10, 12, 0.0), (1, 8, 8, 1e-10), (2, 5, 9, 0.0), (4, 12, 6, 0.0)):
        a, b = related(seed, 200, p, q)
        x, y = a.numpy().T.copy(), b.numpy().T.copy()
        ours = google_get_cca_similarity(x.copy(), y.copy(), eps)
        theirs = cca_core.get_cca_similarity(x.copy(), y.copy(), epsilon=eps, verbose=False)
        assert np.array_equal(ours["cca_coef1"], theirs["cca_coef1"]) and ours["mean"] == theirs["mean"][0]
        if p > q:  # both fail alike
            for f in (google_compute_pwcca, pwcca_module.compute_pwcca):
                with pytest.raises(IndexError):
                    f(x.copy(), y.copy(), eps)
            continue
        ours_pw, theirs_pw = google_compute_pwcca(x.copy(), y.copy(), eps), pwcca_module.compute_pwcca(x, y, eps)
        assert ours_pw[0] == theirs_pw[0] and np.array_equal(ours_pw[1], theirs_pw[1])


# -- where it is right ---------------------------------------------------------------------------------------------

def test_coefficients_agree_on_well_conditioned_activations() -> None:
    a, b = related(0, 2000, 50, 40)
    theirs = google(a, b)["cca_coef1"]
    ours = cca(a, b).numpy()
    assert np.abs(ours - theirs).max() <= 1e-12


# -- where it is not -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_covariance_inversion_loses_accuracy_with_the_condition_number(seed) -> None:
    """Forming covariances squares the condition number: at κ = 1e4 google is off by about 1e-5 (``epsilon=0``)
    and 7e-4 (``epsilon=1e-10``, its tutorial's value); at κ = 1e6 it raises ``LinAlgError`` or returns
    coefficients far from the truth. learndyn: within 1e-14 at both."""
    a, b = mixed(seed, 4.0)
    ref = mp_cca_covariance(a, b)
    assert _error(cca(a, b).numpy(), ref) <= 1e-14
    assert 1e-7 <= _error(google(a, b)["cca_coef1"], ref) <= 1e-3
    assert _error(google(a, b, epsilon=1e-10)["cca_coef1"], ref) >= 1e-5
    a, b = mixed(seed, 6.0)
    ref = mp_cca_covariance(a, b)
    assert _error(cca(a, b).numpy(), ref) <= 1e-14
    try:
        wrong = _error(google(a, b)["cca_coef1"], ref)
    except np.linalg.LinAlgError:
        wrong = np.inf
    assert wrong > 1e-3


def test_epsilon_removes_small_variance_neurons_and_zero_epsilon_fails_on_constant_ones() -> None:
    a, b = related(1, 100, 6, 5)
    scaled = a * torch.logspace(0, -8, 6, dtype=F64)  # a neuron of small variance is still a neuron
    assert (cca(scaled, b) - cca(a, b)).abs().max() <= 1e-14
    theirs = google(scaled, b, epsilon=1e-10)["cca_coef1"]
    assert np.abs(np.pad(theirs, (0, 5 - len(theirs))) - cca(a, b).numpy()).max() > 0.05
    failures = 0
    for seed in range(12):  # a constant neuron and epsilon = 0: LinAlgError in 8 of these 12 draws here
        a, b = related(seed, 100, 6, 5)
        a[:, 2] = 0.1
        try:
            failures += not np.isfinite(google(a, b)["cca_coef1"]).all()
        except np.linalg.LinAlgError:  # eigh of the pseudo-inverse: a negative eigenvalue, its root NaN
            failures += 1
        assert (cca(a, b) > 0).all()  # rank 5 (the constant neuron has no direction) against 5 neurons
    assert failures >= 1


def test_more_neurons_than_examples_is_refused_there() -> None:
    a, b = related(2, 12, 20, 5)
    with pytest.raises(AssertionError, match="neurons"):
        google(a, b)
    assert cca(a, b).shape == (5,)


def test_its_mean_drops_the_smallest_coefficients() -> None:
    """``"mean"`` averages the leading coefficients that hold 98 % of their sum: biased upwards (0.645 where the
    mean of all 40 is 0.542); its tutorial uses ``np.mean(cca_coef1)`` instead, which is the mean CCA."""
    a, b = related(0, 2000, 50, 40)
    result = google(a, b)
    mean_of_all = float(svcca(a, b, None))
    assert abs(float(np.mean(result["cca_coef1"])) - mean_of_all) <= 1e-12
    assert result["mean"] - mean_of_all > 0.05


def test_pwcca_differs_from_its_definition() -> None:
    """Morcos et al.'s weights are ``Σ_j |⟨h_i, a_j⟩|`` with ``h_i`` the canonical variates of the centred
    activations; google projects uncentred activations on a QR of directions without ``Σ^{-1/2}``. On centred,
    well-conditioned data (the side with fewer neurons weighted, as google does) learndyn matches the 50-digit
    definition and google does not; a constant shift of the neurons moves google's value, not the definition's;
    a wider ``acts1`` raises ``IndexError`` there."""
    a, b = related(3, 500, 10, 12, shared=6)
    a = a @ torch.randn(10, 10, dtype=F64, generator=torch.Generator().manual_seed(9))
    a = a - a.mean(0)
    small_a, small_b = a[:60], b[:60]
    assert abs(float(pwcca(small_a, small_b)) - float(mp_pwcca(small_a, small_b))) <= 1e-13
    ours = float(pwcca(a, b))
    theirs = google_compute_pwcca(a.numpy().T.copy(), b.numpy().T.copy())[0]
    assert abs(theirs - ours) > 0.05
    shift = torch.linspace(-5.0, 5.0, 10, dtype=F64)
    assert abs(float(pwcca(a + shift, b)) - ours) <= 1e-12
    assert abs(google_compute_pwcca((a + shift).numpy().T.copy(), b.numpy().T.copy())[0] - theirs) > 1e-3
    with pytest.raises(IndexError):
        google_compute_pwcca(b.numpy().T.copy(), a.numpy().T.copy())
