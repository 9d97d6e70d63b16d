"""Seed 004's trainability / generalisation experiment, on scikit-learn's ``load_digits`` instead of CIFAR-10.

For erf networks in the ordered (``σ_w² = 0.5``) and the chaotic (``σ_w² = 25``) phase (``σ_b² = 0.05``) and a
range of depths, :func:`run_digits_experiment` reports, on a seeded train/test split of the 10-class digits
(:func:`learndyn.verify.simulate.digits_dataset`: rows centred and scaled to ``K⁰_aa = 1``, targets one-hot minus
``1/10``, so each target row sums to 0):

**Infinite width** (``kind = "infinite"``), from ``Θ = ntk_kernel([train; test], train)``:

* ``condition_number``: ``κ = ntk_condition_number(Θ_train)``;
* the outputs after a fixed budget of ``steps`` gradient-descent steps at the learning rate
  ``lr_abs = lr · n k/λ_max(Θ_train)`` (``lr`` is relative: GD is stable for ``lr < 2`` whatever the phase and the
  depth, so the same ``steps`` and ``lr`` are the same budget for every kernel — the kernels' scales differ by 30
  orders of magnitude between the phases, which a fixed absolute ``lr·t`` would reward rather than measure),
  by gradient flow to the time ``t = steps``: ``mse_train_prediction`` / ``mse_test_prediction`` with
  ``f0 = 0`` (the mean over initialisations, as neural-tangents' ``predict`` gives it): ``train_*``, ``test_*``;
* the ``t → ∞`` mean prediction ``mean_prediction(Θ_test,train, Θ_train, Y)``: ``test_accuracy_inf``,
  ``test_mse_inf`` and ``mean_prediction_spread`` (:func:`learndyn.verify.families.ntk_claims.prediction_spread`:
  ``std over test rows / rms(Y)``, 0 when the prediction no longer depends on the input);
* ``steps_to_fit``: the number of steps (at ``lr_abs``, gradient flow) after which the train MSE has fallen to
  ``FIT_FRACTION = 1 %`` of its value at ``t = 0`` (``mean(Y²) = 0.09``), read off a log-spaced grid of ``t`` up to
  ``1e16`` (``inf`` beyond), log-linearly interpolated — of the order of ``κ`` (measured ``≈ κ/8`` in the ordered
  phase, ``≈ κ/2`` at chaotic depth 1; ``ln(100)/2 = 2.3`` once ``κ = 1``);
* ``resolved``: ``κ·eps ≤ RESOLVED`` (``1e-3``: ``λ_min`` and the solve keep about three digits). Where it is
  false (ordered phase beyond a few dozen layers) the part of ``Θ`` that carries the inputs,
  ``Θ − Θ* 𝟙𝟙ᵀ = O(l χ1^l)``, is near float64 round-off: ``κ``, the spread, ``steps_to_fit`` and the ``t → ∞``
  prediction are then (or soon) round-off, not theory (THEORY.md, family 4).

**Trained networks** (``kind = "trained"``, only at ``trained_depths``: expensive, keep out of CI): one erf network
of ``width`` per (phase, depth), trained by :func:`learndyn.verify.simulate.train_mse` (full-batch GD on
``1/(2 n k) ‖f(X) − Y‖²_F``) for ``steps`` steps at the same ``lr_abs`` (from the infinite-width ``λ_max``);
``condition_number`` is that of its empirical NTK at initialisation; its outputs include its random ``f0``
(the infinite rows use ``f0 = 0``), so its test error carries the initial function's fluctuation.

Errors: ``*_accuracy`` is the fraction of rows whose argmax matches the label; ``*_mse`` the mean over the ``n k``
entries of ``(f − Y)²`` (twice the loss). :attr:`DigitsResult.chance_accuracy` is the test accuracy of the constant
prediction ``argmax_j Σ_a Y_aj`` (the training set's most frequent digit; where several digits tie, the fraction of
test rows labelled with any of them, :attr:`DigitsResult.majority_digits`) — the limit of the chaotic phase's test
accuracy: its mean prediction tends to ``Θ*_off Σ_a Y_a/D_l`` plus an input-dependent part smaller by
``O(l χ_c*^l)`` (``χ_c* = 0.718``). Because ``argmax`` ignores the scale, the accuracy reaches that limit only once
the input-dependent part is below the class imbalance ``Σ_a Y_aj``, i.e. later than the MSE reaches ``mean(Y²)``
(the zero predictor's): expect accuracy still above chance at depth 16. Among tied majority digits the
input-dependent part keeps deciding at every depth (in exact arithmetic; for a perfectly balanced training set
the accuracy would never fall to chance), so the bound above counts them all.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch

from learndyn.verify.families.ntk_claims import _f, prediction_spread

__all__ = ["DigitsRow", "DigitsResult", "run_digits_experiment", "FIT_FRACTION", "RESOLVED", "main"]

FIT_FRACTION = 0.01
RESOLVED = 1e-3
_T_GRID = torch.logspace(-1, 16, 137, dtype=torch.float64)  # 8 points per decade
_EPS = torch.finfo(torch.float64).eps


@dataclass
class DigitsRow:
    """One (phase, depth, kind) of the experiment; see the module docstring for each column."""

    phase: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    kind: str
    steps: int
    lr: float
    train_accuracy: float
    train_mse: float
    test_accuracy: float
    test_mse: float
    condition_number: float
    test_accuracy_inf: float | None = None
    test_mse_inf: float | None = None
    mean_prediction_spread: float | None = None
    steps_to_fit: float | None = None
    resolved: bool | None = None
    width: int | None = None
    seconds: float = 0.0


@dataclass
class DigitsResult:
    """Rows of :func:`run_digits_experiment` and its settings; ``to_table()`` and ``to_json()`` print them."""

    rows: list[DigitsRow]
    n_train: int
    n_test: int
    classes: int
    chance_accuracy: float
    zero_predictor_test_mse: float
    majority_digits: list[int] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    wall_seconds: float = 0.0

    def to_json(self) -> dict:
        """A JSON-safe dict (``inf``/``NaN`` become strings)."""
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        return clean(asdict(self))

    def to_table(self) -> str:
        """A plain-text table, one line per row, with the settings and the chance levels above it."""
        s = self.settings
        plural = "s" if len(self.majority_digits) > 1 else ""
        head = [f"load_digits: {self.n_train} train / {self.n_test} test rows, {self.classes} classes, split seed "
                f"{s.get('seed')}; erf, sigma_b2 = {s.get('sigma_b2s')}",
                f"budget: {s.get('steps')} GD steps at lr = {s.get('lr')} x n k / lambda_max(Theta_train) "
                f"(gradient flow for kind=infinite, f0 = 0); 'inf' columns: t -> infinity mean prediction",
                f"chance (test rows labelled with the most frequent training digit{plural} "
                f"{self.majority_digits}): acc {self.chance_accuracy:.3f} (1/k = {1 / self.classes:.3f}); "
                f"zero predictor: test mse {self.zero_predictor_test_mse:.4f}; wall {self.wall_seconds:.1f} s",
                ""]
        cols = ("phase", "sw2", "depth", "kind", "kappa", "train_acc", "train_mse", "test_acc", "test_mse",
                "acc_inf", "mse_inf", "spread", "steps_to_fit", "resolved", "sec")

        def num(v, fmt):
            if v is None:
                return "-"
            if isinstance(v, float) and math.isinf(v):
                return "inf"
            return format(v, fmt)

        rows = [cols] + [(r.phase, f"{r.sigma_w2:g}", str(r.depth),
                          r.kind if r.width is None else f"{r.kind}({r.width})",
                          num(r.condition_number, ".3g"), num(r.train_accuracy, ".3f"), num(r.train_mse, ".3g"),
                          num(r.test_accuracy, ".3f"), num(r.test_mse, ".4f"), num(r.test_accuracy_inf, ".3f"),
                          num(r.test_mse_inf, ".4f"), num(r.mean_prediction_spread, ".2g"), num(r.steps_to_fit, ".3g"),
                          "-" if r.resolved is None else ("yes" if r.resolved else "NO"), f"{r.seconds:.1f}")
                         for r in self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(head + lines)


def _accuracy(f: torch.Tensor, labels: torch.Tensor) -> float:
    return float((f.argmax(-1) == labels).to(torch.float64).mean())


def _mse(f: torch.Tensor, y: torch.Tensor) -> float:
    return float((f - y).pow(2).mean())


def _steps_to_fit(theta: torch.Tensor, y: torch.Tensor, lr_abs: float) -> float:
    """Steps after which the gradient-flow train MSE (``f0 = 0``) is ``FIT_FRACTION`` of ``mean(Y²)``."""
    fn = _f("mse_train_prediction")
    f0 = torch.zeros_like(y)
    grid = _T_GRID.to(theta.device)
    out = fn(t=grid, lr=lr_abs, ntk_train_train=theta, y_train=y, f0_train=f0)
    if out.dim() != 3:  # a scalar-only implementation
        out = torch.stack([fn(t=float(t), lr=lr_abs, ntk_train_train=theta, y_train=y, f0_train=f0) for t in grid])
    mse = (out - y).pow(2).mean(dim=(1, 2))
    target = FIT_FRACTION * float(y.pow(2).mean())
    below = (mse <= target).nonzero()
    if below.numel() == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return float(grid[0])
    # log-linear interpolation of log(mse) against log(t) between grid points i−1 and i
    lt0, lt1 = math.log(float(grid[i - 1])), math.log(float(grid[i]))
    lm0, lm1 = math.log(max(float(mse[i - 1]), 1e-300)), math.log(max(float(mse[i]), 1e-300))
    lt = lt0 + (math.log(target) - lm0) * (lt1 - lt0) / (lm1 - lm0) if lm1 != lm0 else lt1
    return math.exp(lt)


def run_digits_experiment(
    *,
    depths: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    phases: Sequence[tuple[str, float, float]] = (("ordered", 0.5, 0.05), ("chaotic", 25.0, 0.05)),
    n_train: int = 256,
    n_test: int = 512,
    trained_depths: Sequence[int] = (),
    width: int = 1024,
    steps: int = 1000,
    lr: float = 1.0,
    seed: int = 0,
    device: str = "cpu",
    progress=None,
) -> DigitsResult:
    """Run the experiment (module docstring): infinite-width rows at every ``depth`` of every ``phase``
    (``(name, sigma_w2, sigma_b2)``), and trained networks of ``width`` at ``trained_depths``.

    ``steps``: the training budget in GD steps; ``lr``: the learning rate in units of ``n k/λ_max(Θ_train)`` of
    the infinite-width kernel (stable below 2). ``seed``: the data split and the trained networks' parameters.
    ``device``: where the kernels and the networks are computed. ``progress``: optional callable taking a string.
    Raises ``ImportError`` naming the ``learndyn[digits]`` extra without scikit-learn."""
    from learndyn.verify.simulate.ntk import digits_dataset

    try:
        import sklearn  # noqa: F401
    except ImportError as err:
        raise ImportError("the digits experiment needs scikit-learn: pip install 'learndyn[digits]'") from err
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be finite and > 0 (in units of n k / lambda_max), got {lr!r}")
    start = time.perf_counter()
    data = digits_dataset(n_train, n_test, seed=seed)
    dev = torch.device(device)
    xtr, ytr, xte, yte = (t.to(dev) for t in (data.x_train, data.y_train, data.x_test, data.y_test))
    lab_tr, lab_te = data.labels_train.to(dev), data.labels_test.to(dev)
    n, k = ytr.shape
    counts = torch.bincount(lab_tr, minlength=k)  # integer counts: ties are exact
    majority = (counts == counts.max()).nonzero().flatten()  # the most frequent training digit(s)
    chance = float(torch.isin(lab_te, majority).to(torch.float64).mean())
    rows: list[DigitsRow] = []
    x_all = torch.cat([xtr, xte])
    zero_tr, zero_te = torch.zeros_like(ytr), torch.zeros_like(yte)
    for name, sw2, sb2 in phases:
        for depth in sorted(set(depths) | set(trained_depths)):
            t0 = time.perf_counter()
            if progress:
                progress(f"{name} depth {depth}: infinite width")
            theta = _f("ntk_kernel")(x1=x_all, x2=xtr, hidden_layers=depth, sigma_w2=sw2, sigma_b2=sb2,
                                     activation="erf")
            tt, st_ = theta[:n], theta[n:]
            kappa = float(_f("ntk_condition_number")(ntk_train_train=tt))
            lam_max = float(torch.linalg.eigvalsh((tt + tt.T) / 2)[-1])
            lr_abs = lr * n * k / lam_max
            if depth in depths:
                f_tr = _f("mse_train_prediction")(t=float(steps), lr=lr_abs, ntk_train_train=tt, y_train=ytr,
                                                  f0_train=zero_tr)
                f_te = _f("mse_test_prediction")(t=float(steps), lr=lr_abs, ntk_test_train=st_, ntk_train_train=tt,
                                                 y_train=ytr, f0_train=zero_tr, f0_test=zero_te)
                p = _f("mean_prediction")(ntk_test_train=st_, ntk_train_train=tt, y_train=ytr)
                rows.append(DigitsRow(
                    phase=name, sigma_w2=sw2, sigma_b2=sb2, depth=depth, kind="infinite", steps=steps, lr=lr_abs,
                    train_accuracy=_accuracy(f_tr, lab_tr), train_mse=_mse(f_tr, ytr),
                    test_accuracy=_accuracy(f_te, lab_te), test_mse=_mse(f_te, yte), condition_number=kappa,
                    test_accuracy_inf=_accuracy(p, lab_te), test_mse_inf=_mse(p, yte),
                    mean_prediction_spread=prediction_spread(p, ytr), steps_to_fit=_steps_to_fit(tt, ytr, lr_abs),
                    resolved=bool(kappa * _EPS <= RESOLVED), seconds=time.perf_counter() - t0))
            if depth in trained_depths:
                rows.append(_trained_row(name, sw2, sb2, depth, xtr, ytr, xte, yte, lab_tr, lab_te, width, steps,
                                         lr_abs, seed, device, progress))
    return DigitsResult(rows=rows, n_train=n, n_test=xte.shape[0], classes=k, chance_accuracy=chance,
                        majority_digits=[int(v) for v in majority],
                        zero_predictor_test_mse=float(yte.pow(2).mean()),
                        settings={"depths": list(depths), "phases": [list(p) for p in phases],
                                  "sigma_b2s": sorted({p[2] for p in phases}), "trained_depths": list(trained_depths),
                                  "width": width, "steps": steps, "lr": lr, "seed": seed, "device": str(device),
                                  "fit_fraction": FIT_FRACTION, "resolved_if_kappa_eps_below": RESOLVED},
                        wall_seconds=time.perf_counter() - start)


def _trained_row(name, sw2, sb2, depth, xtr, ytr, xte, yte, lab_tr, lab_te, width, steps, lr_abs, seed, device,
                 progress) -> DigitsRow:
    from learndyn.verify.simulate import train_mse

    t0 = time.perf_counter()
    if progress:
        progress(f"{name} depth {depth}: training width {width} for {steps} steps")
    run = train_mse(xtr, ytr, xte, hidden_layers=depth, sigma_w2=sw2, sigma_b2=sb2, activation="erf", width=width,
                    lr=lr_abs, steps=steps, networks=1, seed=seed, device=device)
    f_tr, f_te = run.f_train[0, -1].to(ytr.device), run.f_test[0, -1].to(ytr.device)
    kappa = float(_f("ntk_condition_number")(ntk_train_train=run.ntk_train_train[0]))
    return DigitsRow(phase=name, sigma_w2=sw2, sigma_b2=sb2, depth=depth, kind="trained", steps=steps, lr=lr_abs,
                     train_accuracy=_accuracy(f_tr, lab_tr), train_mse=_mse(f_tr, ytr),
                     test_accuracy=_accuracy(f_te, lab_te), test_mse=_mse(f_te, yte), condition_number=kappa,
                     width=width, seconds=time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m learndyn.verify.digits_experiment [--trained 2,8] [--width 1024] [--steps 1000] [--json]``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="1,2,4,8,16,32,64")
    ap.add_argument("--trained", default="", help="comma-separated depths of trained networks (slow)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=1.0, help="in units of n k / lambda_max")
    ap.add_argument("--n-train", type=int, default=256)
    ap.add_argument("--n-test", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    ints = lambda s: tuple(int(v) for v in s.split(",") if v.strip())  # noqa: E731
    res = run_digits_experiment(depths=ints(a.depths), trained_depths=ints(a.trained), width=a.width, steps=a.steps,
                                lr=a.lr, n_train=a.n_train, n_test=a.n_test, seed=a.seed, device=a.device,
                                progress=lambda s: print(s, flush=True, file=__import__("sys").stderr))
    print(json.dumps(res.to_json(), indent=2) if a.json else res.to_table())


if __name__ == "__main__":
    main()
