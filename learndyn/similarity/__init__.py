"""Representation similarity: CCA, SVCCA, PWCCA and linear CKA of neural-network activations.

Activations are ``(..., examples, neurons)`` tensors — one row per example, one column per neuron (a convolutional
layer flattened over channels, or over channels and positions); leading batch dimensions broadcast, so
``svcca(acts[:, None], acts[None])`` compares every pair of layers in one call. Everything is torch, on the
inputs' device, float64 inside, differentiable.

>>> import torch, learndyn.similarity as sim
>>> a = torch.randn(500, 64, dtype=torch.float64); b = a @ torch.randn(64, 32, dtype=torch.float64)
>>> sim.cca(a, b)[:3]                     # canonical correlations, descending: all 1 (b is a linear map of a)
>>> sim.svcca(a, b, keep=0.99)            # mean CCA of the directions holding 99 % of each side's variance
>>> sim.pwcca(a, b), sim.linear_cka(a, b), sim.unbiased_linear_cka(a, b)

Modules, one concept each: :mod:`.cca` (canonical correlations from orthonormal bases), :mod:`.svcca`,
:mod:`.pwcca`, :mod:`.cka` (linear CKA, biased and unbiased), :mod:`.basis` (the accurate basis of the leading
directions and its gradient), :mod:`.rank` (the rank tolerance and ``keep``), :mod:`.centring`,
:mod:`.compensated` (double-double sums and products), :mod:`.products` (all pairs as one matrix product),
:mod:`.svd_grad` (an SVD whose backward survives ties),
:mod:`.inputs` (the checks and their errors). Each module's docstring carries its definitions; :mod:`.cca`,
:mod:`.svcca` and :mod:`.pwcca` say where google/svcca differs.
"""
from learndyn.similarity.cca import cca
from learndyn.similarity.cka import linear_cka, unbiased_linear_cka
from learndyn.similarity.pwcca import pwcca, pwcca_weights
from learndyn.similarity.rank import default_rtol
from learndyn.similarity.svcca import svcca

__all__ = ["cca", "svcca", "pwcca", "pwcca_weights", "linear_cka", "unbiased_linear_cka", "default_rtol"]
