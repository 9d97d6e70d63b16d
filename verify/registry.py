"""Which simulation checks and claim checks verify which result: one table for every family."""
from __future__ import annotations

from learndyn.verify.claims import CLAIM_CHECKS as _LINEAR_CLAIMS
from learndyn.verify.ntk_checks import NTK_CHECKS
from learndyn.verify.ntk_claims import NTK_CLAIMS
from learndyn.verify.regularisation_checks import REGULARISATION_CHECKS
from learndyn.verify.regularisation_claims import REGULARISATION_CLAIMS
from learndyn.verify.signal_checks import SIGNAL_CHECKS
from learndyn.verify.signal_claims import SIGNAL_CLAIMS
from learndyn.verify.simulation_checks import SIMULATION_CHECKS as _LINEAR_CHECKS

__all__ = ["SIMULATION_CHECKS", "CLAIM_CHECKS"]

SIMULATION_CHECKS = {**_LINEAR_CHECKS, **REGULARISATION_CHECKS, **SIGNAL_CHECKS, **NTK_CHECKS}
CLAIM_CHECKS = {**_LINEAR_CLAIMS, **REGULARISATION_CLAIMS, **SIGNAL_CLAIMS, **NTK_CLAIMS}
