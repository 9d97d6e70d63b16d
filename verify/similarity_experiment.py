"""Seed 001's plan, carried out: what deep noisy ReLU and shifted-ReLU networks learn from critical and off-critical
starts, measured with SVCCA (family 7; ``learndyn similarity-experiment``).

**Networks** (:mod:`learndyn.verify.simulate.noisy_mlp`): ``depth`` hidden layers of ``width`` units, trained with
multiplicative Gaussian noise ``ε ~ N(1, σ_ε²)`` (``μ2 = 1 + σ_ε²``; or dropout, additive noise, none) by minibatch
gradient descent on the cross-entropy of scikit-learn's ``load_digits`` (:func:`learndyn.verify.simulate
.digits_dataset`: ``n_train`` training rows, ``n_probe`` held-out rows on which the activations are recorded and
the test accuracy measured, and ``n_select`` further held-out *selection* rows, used only to choose the reference
networks of claim (c)). Activations: ReLU (``σ_b = 0``) and the shifted ReLU ``φ(h) = max(0, h + α) − α``
(``σ_b > 0``).

**Starts.** *Critical*: for ReLU ``σ_w = critical_sigma_w(μ2) = √(2/μ2)``; for the shifted ReLU
``σ_w = shifted_relu_critical_point(α, σ_b).sigma_w / √μ2``. The latter is the noisy network's critical point: with
multiplicative noise the variance map is ``q' = σ_w² μ2 E[φ(√q z)²] + σ_b²`` (THEORY.md, family 3) and the
gradient's growth per layer ``χ = σ_w² E[ε²] E[φ'²] = σ_w² μ2 p(q)``, so both conditions of the noise-free critical
point hold with ``σ_w² μ2`` in place of ``σ_w²`` (for ReLU this is ``√2/√μ2``, which is ``critical_sigma_w``).
Additive noise has no critical point (``additive_noise_has_no_critical_point``); there the "critical" start is the
noise-free one (``μ2 = 1``). *Off-critical*: ``σ_w²`` multiplied by each of ``factors`` (default ``0.5`` and ``2``:
the variance shrinks, or grows, by that factor per ReLU layer), ``σ_b`` unchanged. Every start is trained with
the same learning rate. Within a seed all networks share their random draws (common random numbers).

**Measurements** (:mod:`learndyn.verify.similarity_measures`; SVCCA keeping ``keep`` = 99 % of each side's
variance, on the ``n_probe`` rows; ``kept`` records how many directions that is, 0 for no representation): per
layer and checkpoint, each layer's SVCCA to its own final state and to its
own initial state; to a reference network (among the networks of the same activation from the *other* seeds, so
that none is compared with itself or with a network that shares its draws, the one with the highest accuracy on the
selection rows, ties broken by the lower cross-entropy there: neither the probe rows where SVCCA is measured nor
the order of the starts enter the choice), over time with ``keep`` and at the end with ``keep_best`` directions on
both sides and linear CKA; across starts (each off-critical network against the critical one of its seed, at the same checkpoint);
between ReLU and shifted ReLU at matching layers (same start; every pair of seeds, so that the pairs sharing their
draws can be told from those that do not); across seeds at the end (same activation and start, different seeds);
and the chance level (a final representation against itself with its examples
permuted).

**Claims** (:mod:`learndyn.verify.similarity_claims`, 95 % Student-t intervals over seeds): (a) networks converge
bottom up, for every activation and start (over the layers that moved); (b) off criticality, ReLU layers beyond
``trainable_depth(μ2) = 6 ξ_c`` (one depth for every ReLU start: it depends on ``μ2`` only) do not learn (ReLU
only: ``trainable_depth`` assumes ``φ = ReLU``, ``σ_b = 0``; the off-critical variance depth ``1/|ln factor|`` is
reported beside it); (c) from the critical start, deep layers (the upper half) end closer to their reference
network than from each off-critical start, by SVCCA with ``keep_best`` directions on both sides. Each is reported as holding,
failing or not decided, with its numbers.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

__all__ = ["ACTIVATIONS", "DEFAULT_STRENGTH", "NOISES", "FIGURE", "OUTPUT_JSON", "SimilarityConfig", "NetworkSpec", "SimilarityResult",
           "checkpoint_steps", "critical_sigma_w", "network_specs", "run_similarity_experiment", "claims_table",
           "stage_count", "output_paths", "write_outputs"]

ACTIVATIONS = ("relu", "shifted")
#: the default ``noise_strength`` of each noise: σ_ε² = 0.1 (μ2 = 1.1), keep probability 0.9 (μ2 = 1.11), variance 0.1
DEFAULT_STRENGTH = {"gaussian": 0.1, "dropout": 0.9, "additive": 0.1, "none": 0.0}
#: the trainer's kinds of noise (:data:`learndyn.verify.simulate.noisy_mlp.NOISES`, which imports torch; repeated
#: here so that the command line can offer them without importing torch; a test checks that the two agree)
NOISES = tuple(DEFAULT_STRENGTH)
OUTPUT_JSON = "similarity.json"
#: the figure's name in :data:`learndyn.verify.figures.FIGURES` (and the stem of its files)
FIGURE = "representation_similarity"


@dataclass(frozen=True)
class SimilarityConfig:
    """The experiment's size and settings (module docstring). :meth:`quick` is the CI size (seconds)."""

    depth: int = 20
    width: int = 96
    seeds: int = 4
    seed: int = 0
    activations: tuple[str, ...] = ACTIVATIONS
    factors: tuple[float, ...] = (0.5, 2.0)
    noise: str = "gaussian"
    #: ``None``: the noise's own default (:data:`DEFAULT_STRENGTH`: 0.1 for Gaussian and additive noise, keep
    #: probability 0.9 for dropout, 0 for none)
    noise_strength: float | None = None
    alpha: float = 0.5
    shifted_sigma_b: float = 0.1
    steps: int = 2000
    lr: float = 0.1
    batch_size: int = 128
    n_train: int = 1000
    n_probe: int = 400
    n_select: int = 300
    checkpoints: int = 10
    keep: float = 0.99
    keep_best: int = 10
    threshold: float = 0.9

    @classmethod
    def quick(cls, **changes) -> SimilarityConfig:
        """Small enough for CI (a few seconds on one CPU core); ``changes`` override fields."""
        return replace(cls(depth=6, width=32, seeds=3, steps=200, n_train=300, n_probe=200, n_select=200,
                           checkpoints=7), **changes)

    @property
    def strength(self) -> float:
        """``noise_strength``, or the noise's default (:data:`DEFAULT_STRENGTH`) when it is ``None``."""
        if self.noise_strength is None:
            return DEFAULT_STRENGTH.get(self.noise, 0.0)
        return self.noise_strength

    def resolved(self) -> SimilarityConfig:
        """This configuration with ``noise_strength`` filled in (:attr:`strength`)."""
        return replace(self, noise_strength=float(self.strength))

    def check(self) -> SimilarityConfig:
        """``ValueError`` naming the first field out of range; ``self`` otherwise."""
        from learndyn.verify.simulate.noisy_mlp import noise_mu2

        for name in ("depth", "width", "seeds", "steps", "batch_size", "n_train", "n_select", "checkpoints",
                     "keep_best"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.n_probe, int) or isinstance(self.n_probe, bool) or self.n_probe < 4:
            raise ValueError(f"n_probe must be an int >= 4 (SVCCA needs examples), got {self.n_probe!r}")
        if not self.activations or any(a not in ACTIVATIONS for a in self.activations):
            bad = [a for a in self.activations if a not in ACTIVATIONS] or ["(none)"]
            raise ValueError(f"activation {bad[0]!r} is unknown: activations must be among {', '.join(ACTIVATIONS)}")
        if len(set(self.activations)) != len(self.activations):
            raise ValueError(f"activations must not repeat, got {list(self.activations)}")
        if any(not (math.isfinite(f) and f > 0 and f != 1.0) for f in self.factors) or \
                len(set(self.factors)) != len(self.factors):
            raise ValueError(f"factors (off-critical multipliers of sigma_w^2) must be distinct finite numbers > 0 "
                             f"and != 1, got {list(self.factors)}")
        if self.noise_strength is not None and not _real(self.noise_strength):
            raise ValueError(f"noise_strength must be a number (or None for the noise's default), got "
                             f"{self.noise_strength!r}")
        if self.noise == "none" and self.noise_strength not in (None, 0):
            raise ValueError(f"noise_strength must be left unset with noise 'none' (it would have no effect), got "
                             f"{self.noise_strength!r}")
        noise_mu2(self.noise, self.strength)
        for name, low in (("alpha", 0.0), ("shifted_sigma_b", 0.0), ("lr", 0.0)):
            value = getattr(self, name)
            if not (_real(value) and math.isfinite(value) and value > low):
                raise ValueError(f"{name} must be a finite number > {low:g}, got {value!r}")
        if not _real(self.keep) or not 0.0 < self.keep <= 1.0:
            raise ValueError(f"keep (the variance fraction SVCCA keeps) must be in (0, 1], got {self.keep!r}")
        if not _real(self.threshold) or not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold (of SVCCA to the final state) must be in (0, 1), got {self.threshold!r}")
        if self.keep_best > min(self.width, self.n_probe - 1):
            raise ValueError(f"keep_best (directions SVCCA keeps against the reference) must be <= min(width, "
                             f"n_probe - 1) = {min(self.width, self.n_probe - 1)}, got {self.keep_best!r}")
        if self.n_train + self.n_probe + self.n_select > 1797:
            raise ValueError(f"n_train + n_probe + n_select must be <= 1797 (the rows of load_digits), got "
                             f"{self.n_train} + {self.n_probe} + {self.n_select}")
        return self


def _real(value) -> bool:
    """A real number (``int`` or ``float``, not ``bool``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class NetworkSpec:
    """One network: its ``activation``, ``start`` (``"critical"`` or ``"x0.5"``…), ``factor`` (of the critical
    ``σ_w²``), ``sigma_w``, ``sigma_b``, ``alpha`` and ``seed``."""

    activation: str
    start: str
    factor: float
    sigma_w: float
    sigma_b: float
    alpha: float
    seed: int


def checkpoint_steps(steps: int, count: int) -> list[int]:
    """0 and ``count − 1`` steps spaced geometrically from ``steps/64`` to ``steps`` (rounded, distinct)."""
    if count <= 1:
        return [0, steps]
    first = max(1.0, steps / 64)
    ratio = (steps / first) ** (1 / max(1, count - 2))
    return sorted({0, steps} | {min(steps, max(1, round(first * ratio**i))) for i in range(count - 1)})


def _start_name(factor: float) -> str:
    return "critical" if factor == 1.0 else f"x{factor:g}"


def critical_sigma_w(activation: str, mu2: float, alpha: float, sigma_b: float) -> float:
    """The critical ``σ_w`` of the noisy network (module docstring): ``critical_sigma_w(μ2)`` for ReLU,
    ``shifted_relu_critical_point(α, σ_b).sigma_w/√μ2`` for the shifted ReLU."""
    import learndyn

    if activation == "relu":
        return float(learndyn.function("critical_sigma_w")(mu2=mu2))
    return float(learndyn.function("shifted_relu_critical_point")(alpha=alpha, sigma_b=sigma_b).sigma_w) / math.sqrt(mu2)


def network_specs(config: SimilarityConfig, mu2: float) -> list[NetworkSpec]:
    """Every network, ordered by activation, start (critical first, then ``factors``) and seed."""
    specs = []
    for act in config.activations:
        alpha, sb = (0.0, 0.0) if act == "relu" else (config.alpha, config.shifted_sigma_b)
        crit = critical_sigma_w(act, mu2, config.alpha, config.shifted_sigma_b)
        for factor in (1.0, *config.factors):
            for s in range(config.seed, config.seed + config.seeds):
                specs.append(NetworkSpec(act, _start_name(factor), factor, crit * math.sqrt(factor), sb, alpha, s))
    return specs


@dataclass
class SimilarityResult:
    """Everything the experiment measured (``curves`` hold nested lists, NaN where undefined), its claims and its
    settings; :meth:`to_json` and :meth:`to_table` print it."""

    config: dict
    theory: dict
    checkpoints: list[int]
    networks: list[dict]
    svcca: dict
    claims: list[dict]
    versions: dict
    device: str
    wall_seconds: float = 0.0
    timings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-safe dict: NaN and infinities become ``null``."""
        from learndyn.verify.similarity_claims import swap_nan

        return swap_nan({"experiment": "similarity", **asdict(self)}, to_json=True)

    def to_table(self) -> str:
        """The claims, one line per claim and group, under a line of settings."""
        return claims_table(self.to_json())


def claims_table(data: dict) -> str:
    """The summary table of the claims in a result's JSON (``SimilarityResult.to_json()``)."""
    c, th = data["config"], data["theory"]
    accuracy: dict[tuple[str, str], list] = {}
    for n in data["networks"]:
        accuracy.setdefault((n["activation"], n["start"]), []).append(
            None if n["diverged_at"] >= 0 else n["probe_accuracy"][-1])
    acc = ", ".join(f"{a} {s} " + ("diverged" if all(x is None for x in v) else f"{_mean(v):.2f}")
                    for (a, s), v in accuracy.items())
    head = [f"load_digits: {c['n_train']} train / {c['n_probe']} probe / {c.get('n_select', 0)} selection rows; depth {c['depth']}, width {c['width']}, "
            f"{c['seeds']} seeds, {c['steps']} steps; noise {c['noise']} {c['noise_strength']:g} (mu2 = "
            f"{th['mu2']:.3g}, trainable_depth = {_g(th['trainable_depth'])}); wall {data['wall_seconds']:.0f} s",
            f"final test accuracy (mean over seeds; diverged networks excluded): {acc}", ""]
    rows = [("claim", "group", "outcome", "mean", "95% interval", "seeds")]
    for r in data["claims"]:
        interval = "-" if r["low"] is None else f"[{r['low']:.3g}, {r['high']:.3g}]"
        rows.append((r["claim"], r["group"], r["outcome"], "-" if r["mean"] is None else f"{r['mean']:.3g}", interval,
                     str(r["seeds"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r['claim']} ({r['group']}): {r['reason']}" for r in data["claims"] if r["outcome"] == "not decided"]
    return "\n".join(head + lines + (["", "not decided:"] + notes if notes else []))


def _g(v) -> str:
    return "inf" if v is None or (isinstance(v, float) and math.isinf(v)) else f"{v:.3g}"


def _mean(values: Sequence) -> float:
    ok = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(ok) / len(ok) if ok else math.nan


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for pkg in ("learndyn", "torch", "numpy", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def run_similarity_experiment(config: SimilarityConfig = SimilarityConfig(), *, device: str = "cpu",
                              progress: Callable[[str], None] | None = None) -> SimilarityResult:
    """Train the networks, measure every SVCCA curve and decide the claims (module docstring).

    ``device``: where the networks train and SVCCA is computed. ``progress(label)`` is called as each stage starts
    (:func:`stage_count` of them). Raises ``ValueError`` naming a setting out of range (:meth:`SimilarityConfig.check`)
    and ``ImportError`` without scikit-learn."""
    config = config.check().resolved()
    try:
        import sklearn  # noqa: F401
    except ImportError as err:
        raise ImportError("the similarity experiment trains on scikit-learn's load_digits: "
                          "pip install 'learndyn[digits]' (or scikit-learn)") from err
    import learndyn
    from learndyn.verify.simulate import digits_dataset
    from learndyn.verify.similarity_claims import evaluate_claims
    from learndyn.verify.similarity_measures import measure_all
    from learndyn.verify.simulate.noisy_mlp import noise_mu2, train_noisy_mlps

    start = time.perf_counter()
    mu2 = noise_mu2(config.noise, config.strength)
    specs = network_specs(config, mu2)
    data = digits_dataset(config.n_train, config.n_probe + config.n_select, seed=config.seed)
    probe, select = slice(0, config.n_probe), slice(config.n_probe, None)  # disjoint held-out rows
    marks = checkpoint_steps(config.steps, config.checkpoints)
    run = train_noisy_mlps(
        data.x_train, data.labels_train, data.x_test[probe], data.labels_test[probe], x_select=data.x_test[select],
        labels_select=data.labels_test[select], depth=config.depth, width=config.width,
        sigma_w=[s.sigma_w for s in specs], sigma_b=[s.sigma_b for s in specs], alpha=[s.alpha for s in specs],
        seeds=[s.seed for s in specs], noise=config.noise, noise_strength=config.noise_strength, lr=config.lr,
        steps=config.steps, batch_size=config.batch_size, checkpoints=marks, device=device,
        progress=(lambda label: progress(f"train: {label}")) if progress else None)
    trained = time.perf_counter()
    svcca = measure_all(run.activations, run.select_accuracy[:, -1], run.select_loss[:, -1], run.diverged_at, specs,
                        keep=config.keep, keep_best=config.keep_best, seed=config.seed, device=device,
                        progress=progress)
    measured = time.perf_counter()
    if progress is not None:
        progress("claims")
    trainable = float(learndyn.function("trainable_depth")(mu2=mu2))
    theory = {"mu2": mu2, "trainable_depth": trainable,
              # ReLU, sigma_b = 0: q^l = factor^l q^0, so the variance changes by e over 1/|ln factor| layers
              "variance_depth": {_start_name(f): 1.0 / abs(math.log(f)) for f in config.factors},
              "critical_sigma_w": {a: critical_sigma_w(a, mu2, config.alpha, config.shifted_sigma_b)
                                   for a in config.activations},
              "critical_note": ("additive noise has no critical point: the noise-free one is used"
                                if config.noise == "additive" else
                                "sigma_w^2 mu2 takes the place of sigma_w^2 in the noise-free critical conditions")}
    if "shifted" in config.activations:
        point = learndyn.function("shifted_relu_critical_point")(alpha=config.alpha, sigma_b=config.shifted_sigma_b)
        theory["shifted_q_star"] = float(point.q_star)
        theory["shifted_active_fraction"] = float(point.active_fraction)
    networks = [dict(asdict(s), index=i, probe_accuracy=run.probe_accuracy[i].tolist(),
                     train_loss=run.train_loss[i].tolist(), diverged_at=int(run.diverged_at[i]),
                     select_accuracy=run.select_accuracy[i].tolist(), select_loss=run.select_loss[i].tolist(),
                     initial_variance=run.init_variance[i].tolist()) for i, s in enumerate(specs)]
    cfg = asdict(config)
    cfg.update(activations=list(config.activations), factors=list(config.factors),
               input_second_moment=run.input_second_moment)
    result = SimilarityResult(config=cfg, theory=theory, checkpoints=marks, networks=networks, svcca=svcca, claims=[],
                              versions=_versions(), device=str(device))
    result.claims = evaluate_claims(result.to_json())
    end = time.perf_counter()
    result.wall_seconds = end - start
    result.timings = {"train": trained - start, "svcca": measured - trained, "claims": end - measured}
    return result


def stage_count(config: SimilarityConfig) -> int:
    """How many times :func:`run_similarity_experiment` calls ``progress``: each checkpoint, each layer, the claims."""
    return len(checkpoint_steps(config.steps, config.checkpoints)) + config.depth + 1


def output_paths(out) -> list:
    """The files :func:`write_outputs` writes into ``out``: the JSON, then the figure's PNG and PDF."""
    from pathlib import Path

    out = Path(out)
    return [out / OUTPUT_JSON, out / f"{FIGURE}.png", out / f"{FIGURE}.pdf"]


def write_outputs(data: dict, out, *, force: bool = False) -> list:
    """Write a result's JSON (``null`` for NaN) and its figure into ``out`` (created if missing); returns the paths.
    Raises ``FileExistsError`` naming the first file that exists, before writing anything, unless ``force``."""
    from learndyn.verify.figures import FIGURES
    from learndyn.verify.figures.data_similarity import figure_data
    from learndyn.verify.figures.style import save, style

    paths = output_paths(out)
    if not force:
        for path in paths:
            if path.exists():
                raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    spec = FIGURES[FIGURE]
    with style():
        save(spec.plot(figure_data(data), spec.caption), paths[1], paths[2])
    return paths
