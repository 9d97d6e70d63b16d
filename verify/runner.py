"""``learndyn verify``: both tiers for the chosen results, and the claims about them.

Tier (a) compares each generated function with an mpmath evaluation of its derivation; tier (b) trains
real networks by gradient descent (batched, seeded, on ``device``) and compares them with the theory
(:mod:`learndyn.verify.simulation_checks`); claims are checked against simulation too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from learndyn.verify.report import Check

__all__ = ["VerifyConfig", "run_verification", "default_device"]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class VerifyConfig:
    """``examples``: hypothesis draws per result in tier (a) and simulated configurations per batch in
    tier (b) (scaled by each check); ``seed`` makes every draw and every network reproducible."""

    examples: int = 100
    seed: int = 0
    device: str = "cpu"


def run_verification(
    names: Iterable[str] | None = None,
    *,
    config: VerifyConfig = VerifyConfig(),
    tiers: tuple[str, ...] = ("a", "b", "claims"),
    progress: Callable[[str], None] | None = None,
    functions: dict[str, Callable] | None = None,
) -> list[Check]:
    """Run the requested tiers; ``functions`` overrides the generated functions (used by the tests that
    show a 1 % error is caught)."""
    import learndyn
    from learndyn.derive.registry import derivation, families
    from learndyn.verify.closed_form import check_closed_form
    from learndyn.verify.flow_checks import check_flow
    from learndyn.verify.kernel_checks import check_kernel
    from learndyn.verify.registry import CLAIM_CHECKS, SIMULATION_CHECKS

    all_names = learndyn.results()
    chosen = list(names) if names else all_names
    for n in chosen:
        learndyn.family_of(n)  # raises a clear error for an unknown name
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
        for n in chosen:
            for check in SIMULATION_CHECKS.get(n, ()):
                if progress:
                    progress(f"{n}: tier b ({check.__name__})")
                checks.append(_guarded(f"{n}", "b: simulation", check, config, functions.get(n) or learndyn.function(n)))
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


def run_user_family(module: str, out_dir, *, config: VerifyConfig = VerifyConfig(),
                    progress: Callable[[str], None] | None = None) -> list[Check]:
    """Tier (a) for a user's own family: its generated module in ``out_dir`` (written by
    ``learndyn derive --module MODULE --out DIR``) against mpmath evaluations of its derivations."""
    import importlib.util
    from pathlib import Path

    from learndyn.derive.families import load_family_module
    from learndyn.derive.pipeline import derive_family
    from learndyn.verify.closed_form import check_closed_form

    family = load_family_module(module)
    path = Path(out_dir) / f"{family.name}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `learndyn derive --module {module} --out {out_dir}` first")
    spec = importlib.util.spec_from_file_location(f"learndyn_user_generated_{family.name}", path)
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    checks = []
    for d in derive_family(family):
        if progress:
            progress(f"{d.result.name}: tier a")
        checks.append(check_closed_form(d, getattr(generated, d.result.name), examples=config.examples, seed=config.seed))
    return checks
