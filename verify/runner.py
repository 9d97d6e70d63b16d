"""``learndyn verify``: both tiers for the chosen results, and the claims about them.

Tier (a) compares each generated function with an mpmath evaluation of its derivation; tier (b) runs each
result's declared simulation checks (:mod:`learndyn.verify.families`: networks trained by gradient descent, random
wide networks or Monte Carlo, batched, seeded, on ``device``) and compares them with the theory
(:mod:`learndyn.verify.tier_b`); claims are checked against simulation too. :func:`run_power` measures how small an
error of the theory tier (b) detects.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from learndyn.verify.report import Check

__all__ = ["VerifyConfig", "run_verification", "plan_verification", "run_power", "plan_user_family", "run_user_family", "run_user_power", "default_device"]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class VerifyConfig:
    """``examples``: hypothesis draws per result in tier (a) and simulated configurations per batch in
    tier (b) (scaled by each check); ``seed`` makes every draw and every network reproducible."""

    examples: int = 100
    seed: int = 0
    device: str = "cpu"


def _chosen(names: Iterable[str] | None) -> list[str]:
    """``names``, or every result; raises ``KeyError`` (a clear message) for an unknown name."""
    import learndyn

    chosen = list(names) if names else learndyn.results()
    for n in chosen:
        learndyn.family_of(n)
    return chosen


def plan_verification(names: Iterable[str] | None = None, tiers: tuple[str, ...] = ("a", "b", "claims"),
                      power: bool = False) -> list[str]:
    """The labels :func:`run_verification` (then, with ``power``, :func:`run_power`) passes to ``progress``, in
    order, without running anything (so a progress display knows the total); raises ``KeyError`` for an unknown
    name."""
    from learndyn.derive.registry import families
    from learndyn.verify.registry import CLAIM_CHECKS
    from learndyn.verify.tier_b.suite import power_labels, tier_b_labels

    chosen = _chosen(names)
    labels = [f"{n}: tier a" for n in chosen] if "a" in tiers else []
    if "b" in tiers:
        labels += tier_b_labels(chosen)
    if "claims" in tiers:
        labels += [f"claim {c.name}" for fam in families() for c in fam.claims
                   if set(c.about) & set(chosen) and c.name in CLAIM_CHECKS]
    return labels + (power_labels(chosen) if power else [])


def run_verification(
    names: Iterable[str] | None = None,
    *,
    config: VerifyConfig = VerifyConfig(),
    tiers: tuple[str, ...] = ("a", "b", "claims"),
    progress: Callable[[str], None] | None = None,
    functions: dict[str, Callable] | None = None,
    cache=None,
) -> list[Check]:
    """Run the requested tiers; ``functions`` overrides the generated functions (used by the tests that
    show a 1 % error is caught); ``cache`` (a :class:`~learndyn.verify.tier_b.MeasurementCache`) keeps tier b's
    measurements for :func:`run_power`."""
    import learndyn
    from learndyn.derive.registry import derivation, families
    from learndyn.verify.closed_form import check_closed_form
    from learndyn.verify.flow_checks import check_flow
    from learndyn.verify.kernel_checks import check_kernel
    from learndyn.verify.registry import CLAIM_CHECKS

    chosen = _chosen(names)
    functions = functions or {}
    checks: list[Check] = []
    if "a" in tiers:
        for n in chosen:
            if progress:
                progress(f"{n}: tier a")
            fn = functions.get(n) or learndyn.function(n)
            d = derivation(n)
            check = (check_flow if d.spectral else check_kernel if any(p.kind == "array" for p in d.result.params)
                     else check_closed_form)
            checks.append(check(d, fn, examples=config.examples, seed=config.seed))
    if "b" in tiers:
        from learndyn.derive.registry import declaration
        from learndyn.verify.tier_b.suite import run_tier_b

        checks += run_tier_b(chosen, config=config, theories={n: functions.get(n) or learndyn.function(n) for n in chosen},
                             results={n: declaration(n) for n in chosen}, progress=progress, cache=cache)
    if "claims" in tiers:
        for fam in families():
            for claim in fam.claims:
                if not set(claim.about) & set(chosen):
                    continue
                check = CLAIM_CHECKS.get(claim.name)
                if check is None:
                    checks.append(Check(claim.name, "claim", 0, float("nan"), float("nan"), "-", False,
                                        "no simulation check is registered for this claim"))
                    continue
                if progress:
                    progress(f"claim {claim.name}")
                checks.append(_guarded(claim.name, "claim", check, config))
    return checks


def _guarded(name: str, tier: str, check: Callable, *args) -> Check:
    """Run one check; an exception inside it (a simulator or a function that crashed) is a failed row
    naming the exception, so one broken check never hides the others."""
    try:
        return check(*args)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).splitlines()[0] if str(exc) else ""
        return Check(name, tier, 0, float("nan"), float("nan"), "-", False,
                     f"{getattr(check, '__name__', 'check')} raised {type(exc).__name__}: {first}")


def _user_family(module: str, out_dir):
    """A user's family, its module (for ``SIMULATIONS``) and its generated module in ``out_dir``."""
    import importlib.util
    from pathlib import Path

    from learndyn.derive.families import import_family_module, load_family_module

    family = load_family_module(module)
    path = Path(out_dir) / f"{family.name}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `learndyn derive --module {module} --out {out_dir}` first")
    spec = importlib.util.spec_from_file_location(f"learndyn_user_generated_{family.name}", path)
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    return family, import_family_module(module), generated


def plan_user_family(module: str, out_dir, tiers: tuple[str, ...] = ("a", "b"), power: bool = False) -> list[str]:
    """The labels :func:`run_user_family` (then, with ``power``, :func:`run_user_power`) passes to ``progress``, in
    order, without running anything."""
    from learndyn.verify.families import simulations_of_module
    from learndyn.verify.tier_b.suite import power_labels, tier_b_labels

    family, user_module, _ = _user_family(module, out_dir)
    names = [r.name for r in family.results]
    labels = [f"{n}: tier a" for n in names] if "a" in tiers else []
    if "b" in tiers:
        labels += tier_b_labels(names, declared=simulations_of_module(user_module))
    return labels + (power_labels(names) if power else [])


def run_user_family(module: str, out_dir, *, config: VerifyConfig = VerifyConfig(),
                    tiers: tuple[str, ...] = ("a", "b"), progress: Callable[[str], None] | None = None,
                    cache=None) -> list[Check]:
    """A user's own family: tier (a), its generated module in ``out_dir`` (written by
    ``learndyn derive --module MODULE --out DIR``) against mpmath evaluations of its derivations, and tier (b), the
    simulation checks its module declares in ``SIMULATIONS`` (a result without one is a failed row)."""
    from learndyn.derive.pipeline import derive_family
    from learndyn.verify.closed_form import check_closed_form
    from learndyn.verify.families import simulations_of_module
    from learndyn.verify.tier_b.suite import run_tier_b

    family, user_module, generated = _user_family(module, out_dir)
    checks = []
    if "a" in tiers:
        for d in derive_family(family):
            if progress:
                progress(f"{d.result.name}: tier a")
            checks.append(check_closed_form(d, getattr(generated, d.result.name), examples=config.examples, seed=config.seed))
    if "b" in tiers:
        names = [r.name for r in family.results]
        checks += run_tier_b(names, config=config, theories={n: getattr(generated, n) for n in names},
                             results={r.name: r for r in family.results}, progress=progress, cache=cache,
                             declared=simulations_of_module(user_module))
    return checks


def run_user_power(module: str, out_dir, *, config: VerifyConfig = VerifyConfig(),
                   progress: Callable[[str], None] | None = None, cache=None) -> list:
    """The power of a user family's declared simulation checks (see :func:`run_power`)."""
    from learndyn.verify.families import simulations_of_module
    from learndyn.verify.tier_b.suite import run_power as _run_power

    family, user_module, generated = _user_family(module, out_dir)
    names = [r.name for r in family.results]
    return _run_power(names, config=config, theories={n: getattr(generated, n) for n in names},
                      results={r.name: r for r in family.results}, progress=progress, cache=cache,
                      declared=simulations_of_module(user_module))


def run_power(names: Iterable[str] | None = None, *, config: VerifyConfig = VerifyConfig(),
              progress: Callable[[str], None] | None = None, functions: dict[str, Callable] | None = None,
              cache=None) -> list:
    """The power of every chosen result's simulation checks (:mod:`learndyn.verify.tier_b.power`): the smallest
    relative error of the theory they detect, measured on the measurements of ``cache`` (simulated if absent)."""
    import learndyn
    from learndyn.derive.registry import declaration
    from learndyn.verify.tier_b.suite import run_power as _run_power

    chosen = _chosen(names)
    functions = functions or {}
    return _run_power(chosen, config=config, theories={n: functions.get(n) or learndyn.function(n) for n in chosen},
                      results={n: declaration(n) for n in chosen}, progress=progress, cache=cache)
