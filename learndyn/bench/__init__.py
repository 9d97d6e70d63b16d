"""``learndyn bench``: every figure a ratio against a baseline measured in the same run.

Groups (:data:`GROUPS`): ``closed_forms`` (:mod:`learndyn.bench.closed_forms`), ``solvers``
(:mod:`learndyn.bench.solvers`), ``kernels`` (:mod:`learndyn.bench.kernels`: NNGP + NTK against neural-tangents and
a naive recursion), ``simulation`` (:mod:`learndyn.bench.simulation`),
``similarity`` (:mod:`learndyn.bench.similarity`) and ``derive`` (:mod:`learndyn.bench.derivation`); timing in
:mod:`learndyn.bench.timing`, inputs in :mod:`learndyn.bench.points`, the report in :mod:`learndyn.bench.report`,
the machine in :mod:`learndyn.bench.provenance`.

>>> from learndyn.bench import run_bench
>>> report = run_bench(("simulation",), device="cpu", quick=True)
>>> print(report.to_table())
"""
from learndyn.bench.report import GROUPS, BenchReport, Row
from learndyn.bench.runner import run_bench
from learndyn.bench.timing import Timing, measure

__all__ = ["run_bench", "BenchReport", "Row", "GROUPS", "Timing", "measure"]
