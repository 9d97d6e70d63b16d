"""The claim checks of every family, by claim (each family's ``CLAIM_CHECKS`` in ``learndyn.verify.families``).

Results have no entry here: every result's tier (b) is declared (``SIMULATIONS``) beside its family in
``verify/families/`` and collected by :func:`learndyn.verify.families.simulations`."""
from __future__ import annotations

from learndyn.verify.families import claim_checks

__all__ = ["CLAIM_CHECKS"]

CLAIM_CHECKS = claim_checks()
