"""Tier (b) of ``nngp_kernel`` and ``ntk_kernel``: the mean empirical kernels of random finite-width networks.

Each case is one network configuration (activation, ``hidden_layers = L``, ``sigma_w2``, ``sigma_b2``) at 4 inputs
of ``d = 16`` normalised to ``K⁰_aa = 1`` (two random rows, one ``1e-3`` from the first, one nearly opposite to the
second). ``M`` networks of width ``N`` are sampled exactly in law (:func:`~learndyn.verify.simulate.ntk_law.
sampled_kernels`: the statistics :func:`~learndyn.verify.simulate.ntk.empirical_kernels` computes from explicit
weights, at ``O(N)`` instead of ``O(N²)`` cost per layer, so the width can be large); per network the readout
covariance ``K̂`` and the empirical NTK ``Θ̂`` of readout output 0. Every entry ``(a, b)`` of the upper triangle
is compared, as the mean over networks, in units of ``√(K̂_aa K̂_bb)`` (the mean diagonal; relative on the
diagonal), within ``5`` standard errors of that mean plus a finite-width allowance:

* ``L ≤ 1``: none (round-off only). Given the inputs, ``z¹`` is exactly Gaussian, so ``E K̂ = σ_w² T(K¹) + σ_b²`` and
  ``E Θ̂ = K² + σ_w² Ṫ(K¹) K¹`` exactly at every width;
* ``L ≥ 2``: ``E K̂`` and ``E Θ̂`` carry an ``O(L/N)`` bias (the kernel of layer ``l`` fluctuates by ``O(1/√N)`` and
  the maps are curved). Measured with the same sampler at ``N = 32`` and ``128`` (2^22 network-units each), in
  these units: ``|bias| ≤ 0.78 L/N`` over ReLU and erf, ``L = 2 … 4``, ``σ_w² = 0.1 … 30``, ``σ_b² = 0 … 1`` (largest
  for the erf NTK deep in the chaotic phase); the allowance is ``BIAS_PER_LAYER · L/N = 1.5 L/N``, at most
  ``7e-4`` at the default width — the bias is made negligible by the width rather than fitted.

Sizes (default): ReLU ``N = 8192``, ``M = 192``; erf ``N = 4096``, ``M = 128``. The per-network standard deviation is
about ``3/√N`` (ReLU) and ``1/√N`` (erf; ``4/√N`` on the chaotic NTK's diagonal) in these units; the standard errors
at the pinned cases are 0.004–0.25 % (0.5 % on the chaotic NTK's diagonal), so a 2 % error of the kernel fails
wherever it is not small against its scale.
"""
from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from learndyn.domain import IntParam
from learndyn.verify.tier_b import OUTPUT, Measurement, SharedRun, SimulationCheck, Statistical
from learndyn.verify.validity.axis import width_axis

__all__ = ["KERNEL_CHECKS", "kernel_inputs", "sampled_case", "BIAS_PER_LAYER", "SIZES", "HIDDEN_RANGE"]

#: the finite-width allowance per hidden layer in units of 1/N (twice the largest bias measured; module docstring)
BIAS_PER_LAYER = 1.5
#: round-off allowance, in the comparison's units
ROUND_OFF = 1e-12
#: ``units``: the least ``width × networks`` a run samples per activation (:func:`networks_at`), inactive at the
#: check's own widths: it holds the standard error as a validity map narrows the networks
SIZES = {"width": {"relu": 8192, "erf": 4096}, "networks": {"relu": 192, "erf": 128},
         "units": {"relu": 2**19, "erf": 2**18}}
GPU_SIZES = {"width": {"relu": 65536, "erf": 32768}, "networks": {"relu": 512, "erf": 512},
             "units": {"relu": 2**24, "erf": 2**23}}
#: the lowest width of the validity map (one value for both activations, from the wider check's width down)
KERNEL_WIDTH_LO = 2.0
#: the simulated depths (the cost and the bias grow with L)
HIDDEN_RANGE = IntParam(1, 4)
INPUTS = 4
#: the pinned configurations: ReLU near and below criticality, erf at one hidden layer and in both phases at three
PINNED = (("relu", 1, 2.0, 0.1), ("relu", 3, 1.5, 0.2), ("erf", 1, 2.5, 0.1), ("erf", 3, 0.5, 0.05),
          ("erf", 3, 6.0, 0.05))


def kernel_inputs(seed: int, d: int = 16) -> torch.Tensor:
    """4 rows of norm √d (``K⁰_aa = 1``): two random, one 1e-3 from the first, one nearly opposite to the second."""
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(INPUTS, d, generator=g, dtype=torch.float64)
    x[2] = x[0] + 1e-3 * torch.randn(d, generator=g, dtype=torch.float64)
    x[3] = -x[1] + 1e-2 * torch.randn(d, generator=g, dtype=torch.float64)
    return x * math.sqrt(d) / x.norm(dim=1, keepdim=True)


def _size(sizes, key: str, activation: str) -> int:
    value = sizes[key]
    return int(value[activation] if isinstance(value, dict) else value)


def networks_at(sizes, activation: str | None = None) -> int:
    """The number of networks a run samples: ``sizes["networks"]`` (per activation where it is a dict), raised where
    ``sizes["units"]`` is given so that ``width × networks ≥ units``: inactive at the check's own widths, it holds the
    standard error as a validity map narrows the networks."""
    networks = _size(sizes, "networks", activation)
    if "units" not in sizes:
        return networks
    return max(networks, -(-_size(sizes, "units", activation) // _size(sizes, "width", activation)))


def sampled_case(case, sizes, device):
    """The inputs and the sampled kernels of a case (one run shared by the NNGP and the NTK checks:
    :class:`~learndyn.verify.tier_b.SharedRun`)."""
    from learndyn.verify.simulate.ntk_law import sampled_kernels

    act = case["activation"]
    seed = int(case["seed"])
    x = kernel_inputs(seed).to(device)
    return x, sampled_kernels(x, hidden_layers=int(case["hidden_layers"]), sigma_w2=float(case["sigma_w2"]),
                              sigma_b2=float(case["sigma_b2"]), activation=act, width=_size(sizes, "width", act),
                              networks=networks_at(sizes, act), seed=seed, device=str(device))


def simulate_kernel(which: str) -> SharedRun:
    """The mean empirical ``which`` ("nngp" or "ntk") kernel of :func:`sampled_case`, as a Measurement."""
    def observe(sampled, case, sizes, device) -> Measurement:
        x, kernels = sampled
        emp = getattr(kernels, which)                              # (M, n, n)
        rows, cols = torch.triu_indices(INPUTS, INPUTS, device=emp.device)
        observed = emp[:, rows, cols]                              # (M, pairs)
        diag = emp.diagonal(dim1=1, dim2=2).mean(0)
        scale = torch.sqrt(diag[rows] * diag[cols])
        L, act = int(case["hidden_layers"]), case["activation"]
        width = _size(sizes, "width", act)
        allowance = ROUND_OFF + (BIAS_PER_LAYER * L / width if L >= 2 else 0.0)
        return Measurement(
            args=dict(x1=x, x2=None, hidden_layers=L, sigma_w2=float(case["sigma_w2"]),
                      sigma_b2=float(case["sigma_b2"]), activation=act),
            observed={OUTPUT: observed}, observe={OUTPUT: lambda k: k[rows, cols]}, replicate_dim=0, scale=scale,
            allowance=allowance,
            where=(f"{act}, hidden_layers={L}, sigma_w2={case['sigma_w2']:.4g}, sigma_b2={case['sigma_b2']:.4g}, "
                   f"{emp.shape[0]} networks of width {width}, seed {case['seed']}"))
    observe.__qualname__ = f"observe_{which}_kernel"
    return SharedRun(sampled_case, observe)


def kernel_strategy(result):
    """Cases ``{activation, hidden_layers, sigma_w2, sigma_b2, seed}``: ``sigma_w2``, ``sigma_b2`` and the activation
    from the declared test ranges, ``hidden_layers`` from :data:`HIDDEN_RANGE`."""
    from learndyn.verify.strategies import param_strategy

    by = {p.name: p for p in result.params}
    return st.fixed_dictionaries({
        "activation": param_strategy(by["activation"], "test"),
        "hidden_layers": st.integers(HIDDEN_RANGE.lo, HIDDEN_RANGE.hi),
        "sigma_w2": param_strategy(by["sigma_w2"], "test"),
        "sigma_b2": param_strategy(by["sigma_b2"], "test"),
        "seed": st.integers(0, 2**31 - 1)})


def kernel_points() -> tuple[dict, ...]:
    return tuple({"activation": a, "hidden_layers": L, "sigma_w2": w, "sigma_b2": b, "seed": 2000 + i}
                 for i, (a, L, w, b) in enumerate(PINNED))


def _check(name: str, which: str) -> SimulationCheck:
    what = "readout covariance" if which == "nngp" else "empirical NTK"
    return SimulationCheck(
        result=name, title=f"mean {what} of random wide networks", method="empirical_kernel",
        simulate=simulate_kernel(which), compare=Statistical(), strategy=kernel_strategy, points=kernel_points(),
        sizes=SIZES, gpu_sizes=GPU_SIZES, examples_per_case=50,
        axes=(width_axis(start=max(SIZES["width"].values()), lo=KERNEL_WIDTH_LO),))


KERNEL_CHECKS = (_check("nngp_kernel", "nngp"), _check("ntk_kernel", "ntk"))
