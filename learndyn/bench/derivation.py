"""Group ``derive``: wall time of ``learndyn derive`` from a cold cache and of ``learndyn verify`` at its default
size, with where the time goes.

* ``learndyn derive --check`` with ``LEARNDYN_CACHE`` pointing at an empty folder (everything re-derived and
  re-proven), in a subprocess, with the default workers (:func:`learndyn.derive.pipeline.default_workers`) against
  one worker (``LEARNDYN_DERIVE_WORKERS=1``, the serial derivation) — goal: under 30 s;
* a cold serial derivation under ``cProfile`` in a subprocess: seconds per family and per result, and the top
  functions by cumulative time (profiling slows it; the shares are what it is for);
* ``learndyn verify`` at its default size (``--examples 100``, all tiers), in this process, timed per check.

``quick`` derives four results of one family in this process (default workers against one) and verifies one
result's tier (a) with 5 examples.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

from learndyn.bench.report import Row

__all__ = ["run_derive", "cold_derive_seconds", "profile_cold_derive", "verify_seconds"]

GROUP = "derive"
GOAL_SECONDS = 30.0

_PROFILE = r"""
import cProfile, json, pstats, sys, time
from learndyn.derive.families import builtin_families
from learndyn.derive.derivation import derive_result
from learndyn.derive.maps import with_parts
prof = cProfile.Profile()
per = []
start = time.perf_counter()
for fam in builtin_families():
    ds = []
    for r in fam.results:
        t = time.perf_counter()
        prof.enable()
        ds.append(derive_result(r, with_parts(ds)))
        prof.disable()
        per.append([fam.name, r.name, time.perf_counter() - t])
total = time.perf_counter() - start
stats = pstats.Stats(prof).stats
top = sorted(stats.items(), key=lambda kv: -kv[1][3])[:int(sys.argv[1])]
rows = [{"function": f"{f}:{line}({name})", "ncalls": nc, "tottime_s": tt, "cumtime_s": ct}
        for (f, line, name), (cc, nc, tt, ct, callers) in top]
json.dump({"total_s": total, "per_result": per, "top": rows}, sys.stdout)
"""


def _env(cache: str, workers: int | None) -> dict:
    env = dict(os.environ, LEARNDYN_CACHE=cache)
    if workers is not None:
        env["LEARNDYN_DERIVE_WORKERS"] = str(workers)
    else:
        env.pop("LEARNDYN_DERIVE_WORKERS", None)
    return env


def cold_derive_seconds(workers: int | None = None) -> tuple[float, int, str]:
    """Wall seconds of ``learndyn derive --check`` with an empty cache, its exit status and its last output line."""
    with tempfile.TemporaryDirectory(prefix="learndyn-cold-") as cache:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "learndyn.cli", "derive", "--check"], env=_env(cache, workers),
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
    lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return seconds, proc.returncode, lines[-1] if lines else ""


def profile_cold_derive(top: int = 25) -> dict:
    """A cold serial derivation under cProfile (subprocess): ``total_s``, ``per_result`` and ``top`` functions."""
    with tempfile.TemporaryDirectory(prefix="learndyn-profile-") as cache:
        proc = subprocess.run([sys.executable, "-c", _PROFILE, str(top)], env=_env(cache, 1), capture_output=True,
                              text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"profiling the derivation failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def verify_seconds(names=None, *, examples: int = 100, tiers=("a", "b", "claims"), device: str = "cpu") -> dict:
    """``learndyn verify`` in this process: total seconds, seconds per check (from its progress), failures."""
    from learndyn.verify.runner import VerifyConfig, run_verification

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    checks = run_verification(names, config=VerifyConfig(examples=examples, device=device), tiers=tiers,
                              progress=lambda label: marks.append((label, time.perf_counter())))
    end = time.perf_counter()
    per = [(label, (marks[i + 1][1] if i + 1 < len(marks) else end) - t) for i, (label, t) in enumerate(marks)]
    return {"total_s": end - start, "checks": len(checks), "failed": sum(not c.passed for c in checks),
            "per_check": sorted(per, key=lambda kv: -kv[1])}


def _by_family(per_result: list) -> dict:
    out: dict = {}
    for family, _, seconds in per_result:
        out[family] = out.get(family, 0.0) + seconds
    return out


def run_derive(*, device: str, quick: bool, progress=None) -> list[Row]:
    if quick:
        return _quick(device, progress)
    rows: list[Row] = []
    if progress:
        progress("derive: cold learndyn derive --check (default workers)")
    par, par_rc, par_msg = cold_derive_seconds()
    if progress:
        progress("derive: cold learndyn derive --check (one worker)")
    ser, ser_rc, ser_msg = cold_derive_seconds(workers=1)
    from learndyn.derive.pipeline import default_workers

    note = "" if par_rc == 0 else "generated/ differs from the declarations (derive --check exit 1): timed anyway"
    rows.append(Row(GROUP, "cold `learndyn derive --check` (empty LEARNDYN_CACHE)", "s", par, ser,
                    "the same with LEARNDYN_DERIVE_WORKERS=1 (serial)", "speedup", goal=GOAL_SECONDS, goal_op="<=",
                    goal_on="measured", note=note,
                    details={"workers": default_workers(), "exit_status": par_rc, "serial_exit_status": ser_rc,
                             "output": par_msg, "serial_output": ser_msg}))
    if progress:
        progress("derive: profile of a cold serial derivation")
    prof = profile_cold_derive()
    per = sorted(prof["per_result"], key=lambda r: -r[2])
    rows.append(Row(GROUP, "cold serial derivation under cProfile (where the time goes)", "s", prof["total_s"], None,
                    "-", note="profiled: slower than unprofiled; see details",
                    details={"per_family_s": _by_family(prof["per_result"]),
                             "per_result_s": [[f"{fam}.{name}", s] for fam, name, s in per],
                             "top_cumulative": prof["top"]}))
    if progress:
        progress("derive: learndyn verify (default size)")
    ver = verify_seconds(device=device)
    rows.append(Row(GROUP, "`learndyn verify` at its default size (--examples 100, all tiers)", "s", ver["total_s"], None,
                    "-", details={"checks": ver["checks"], "failed": ver["failed"],
                                  "slowest_checks_s": ver["per_check"][:20]}))
    return rows


def _quick(device: str, progress) -> list[Row]:
    from learndyn.derive.pipeline import default_workers, derive_families
    from learndyn.derive.registry import family

    fam = family("regularisation")
    small = dataclasses.replace(fam, results=tuple(r for r in fam.results if r.name in
                                                   ("weight_decay_trajectory", "noise_equivalent_decay",
                                                    "dropout_trajectory", "inverted_dropout_trajectory")))
    if progress:
        progress("derive: four results, cold")
    times = {}
    for workers in (None, 1):
        start = time.perf_counter()
        derive_families([small], use_cache=False, workers=workers)
        times[workers] = time.perf_counter() - start
    rows = [Row(GROUP, f"cold derivation of {len(small.results)} results of '{fam.name}'", "s", times[None], times[1],
                "the same with one worker (serial)", "speedup", details={"workers": default_workers()})]
    if progress:
        progress("derive: verify one result")
    ver = verify_seconds(["mode_trajectory"], examples=5, tiers=("a",), device=device)
    rows.append(Row(GROUP, "`learndyn verify mode_trajectory --tier a --examples 5`", "s", ver["total_s"], None, "-",
                    details={"checks": ver["checks"], "failed": ver["failed"]}))
    return rows
