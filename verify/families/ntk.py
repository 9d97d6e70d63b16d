"""Tier (b) of family 4 (trainability and generalisation through the NTK, seed 004), declared beside
``derive/families/ntk.py``.

* the kernel maps ``relu_kernel_map``, ``erf_kernel_map`` and their derivatives: Monte Carlo over the units of a random
  dense layer, with antithetic units and control variates of known mean (:mod:`.ntk_maps`);
* ``nngp_kernel``, ``ntk_kernel``: the mean readout covariance and empirical NTK of random wide networks, sampled
  exactly in law at a width where the ``O(L/N)`` finite-width bias is negligible (:mod:`.ntk_kernels`);
* ``kernel_fixed_point``, ``chi1``, ``kernel_depth_scales``, ``ntk_depth_limit``: deep random networks at their
  stationary state — its variance and correlation, the layer-to-layer Jacobian, and the empirical NTK at depth
  (:mod:`.ntk_phase`);
* the training results (``mse_train_prediction``, ``mse_test_prediction``, ``ntk_condition_number``,
  ``mean_prediction``): :mod:`.ntk_training`.

The family's claims (chaotic networks train fast but forget their inputs; ordered ones generalise but train slowly)
are :mod:`.ntk_claims`.
"""
from __future__ import annotations

from learndyn.verify.families import ntk_training
from learndyn.verify.families.ntk_claims import NTK_CLAIMS
from learndyn.verify.families.ntk_kernels import KERNEL_CHECKS
from learndyn.verify.families.ntk_maps import MAP_CHECKS
from learndyn.verify.families.ntk_phase import PHASE_CHECKS

__all__ = ["SIMULATIONS", "CLAIM_CHECKS"]

SIMULATIONS = (*MAP_CHECKS, *KERNEL_CHECKS, *PHASE_CHECKS, *ntk_training.SIMULATIONS)

#: the family's claim checks, by claim
CLAIM_CHECKS = NTK_CLAIMS
