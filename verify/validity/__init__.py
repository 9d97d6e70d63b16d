"""Validity maps (``learndyn validity``): where each theory stops holding, in numbers.

A map sweeps one hyperparameter (an :class:`Axis` declared on a result's simulation check) past the check's
simulation range, measures the deviation of simulation from theory as the check does but before any
extrapolation (:mod:`~learndyn.verify.validity.deviation`), and locates where it crosses each level
(:mod:`~learndyn.verify.validity.search`), with its uncertainty over seeds (:mod:`~learndyn.verify.validity.sweep`).
The units of work are plain data (:mod:`~learndyn.verify.validity.units`). Theory of the breakdown, where there is
one, is drawn beside the map: GD's first-order deviation (:mod:`~learndyn.verify.validity.first_order`) and the
stability limit ``lr·λ_max = 2``.
"""
from learndyn.verify.validity.axis import Axis, apply_axis, lr_axis, width_axis
from learndyn.verify.validity.deviation import Deviation, deviation
from learndyn.verify.validity.search import Bracket, contour_search, limit_search
from learndyn.verify.validity.sweep import LEVELS, Contour, Limit, SweepPoint, ValidityMap, axes_of, validity_map
from learndyn.verify.validity.units import Evaluation, WorkUnit, evaluate_unit, serial_map

__all__ = [
    "Axis", "lr_axis", "width_axis", "apply_axis", "Deviation", "deviation", "Bracket", "contour_search",
    "limit_search", "LEVELS", "Contour", "Limit", "SweepPoint", "ValidityMap", "axes_of", "validity_map",
    "Evaluation", "WorkUnit", "evaluate_unit", "serial_map",
]
