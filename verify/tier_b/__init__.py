"""Tier (b), declared: a result's simulation check as data (:class:`SimulationCheck`), its measurements
(:class:`Measurement`), the comparisons (:class:`Statistical`, :class:`Richardson`, :class:`UpperBound`,
:class:`Extrapolated`), the engine that runs them and the power they have (:func:`measure_power`)."""
from learndyn.verify.tier_b.comparison import K_SE, Comparison, Extrapolated, Outcome, Richardson, Statistical, UpperBound
from learndyn.verify.tier_b.declaration import METHODS, Case, SimulationCheck
from learndyn.verify.tier_b.engine import CaseRun, MeasurementCache, cases_of, draw_cases, judge, measure, run_check
from learndyn.verify.tier_b.measurement import OUTPUT, Measurement
from learndyn.verify.tier_b.shared_run import SharedRun
from learndyn.verify.tier_b.power import TARGET, PowerRow, Variant, format_power_table, measure_power, wrong_theory

__all__ = [
    "SimulationCheck", "Case", "METHODS", "Measurement", "OUTPUT", "SharedRun",
    "Comparison", "Outcome", "Statistical", "Richardson", "UpperBound", "Extrapolated", "K_SE",
    "MeasurementCache", "CaseRun", "cases_of", "draw_cases", "measure", "judge", "run_check",
    "PowerRow", "Variant", "measure_power", "wrong_theory", "format_power_table", "TARGET",
]
