"""The declaration of a result: everything about it is written here once.

A :class:`Result` holds its parameters (each with the three ranges of THEORY.md: the function's
domain, the range its tests draw from, the range a simulation can cover), relations between
parameters, the defining equation (a :class:`Definition`), the published form, the assumptions in
words, the source, and LaTeX notation. The derivation, proof, generated code, LaTeX, domain checks and
hypothesis strategies are all computed from it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import sympy as sp

from learndyn.domain import ArrayParam, ChoiceParam, Interval, IntParam

__all__ = [
    "Param", "Relation", "Source", "Result", "Claim", "Family",
    "ODE", "SeparableTime", "ClosedForm", "Implicit", "Interval", "IntParam", "ChoiceParam",
    "Between", "Solve", "RandomClock", "UpperBound",
    "GaussianMap", "Recurrence", "Root", "Composite", "FreeProduct", "KernelComposition", "ByChoice", "SpectralFlow", "ArrayParam", "ref",
    "SpectralDensity", "ModeDynamics", "SpectralIntegral",
    "solved_variable",
]


@dataclass(frozen=True)
class Param:
    """One parameter of a result.

    ``domain`` is where the function is defined (an :class:`Interval`, :class:`IntParam` or
    :class:`ChoiceParam`); ``test`` the range hypothesis draws from for the closed-form tier (finite,
    edges included; defaults to ``domain`` clipped); ``sim`` the range a simulation can cover (where GD
    is stable and runs are affordable; ``None`` if the parameter is not simulated). ``log`` draws the
    parameter log-uniformly (scale parameters). ``special`` are values every test includes (``y = 0``);
    ``near`` names parameters this one is also drawn equal or close to (``gamma`` near ``s``: the removable
    singularity ``s = gamma`` and its neighbourhood).
    """

    name: str
    domain: Interval | IntParam | ChoiceParam
    test: Interval | IntParam | ChoiceParam | Between | None = None
    sim: Interval | IntParam | ChoiceParam | None = None
    log: bool = False
    latex: str | None = None
    description: str = ""
    special: tuple = ()
    near: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``"int"``, ``"choice"`` or ``"float"``: how the parameter is drawn, checked and passed."""
        if isinstance(self.domain, IntParam):
            return "int"
        if isinstance(self.domain, ChoiceParam):
            return "choice"
        if isinstance(self.domain, ArrayParam):
            return "array"
        return "real"

    @property
    def symbol(self) -> sp.Symbol:
        """The SymPy symbol, with assumptions read off the domain (``positive`` where ``lo >= 0`` and open)."""
        if self.kind == "int":
            return sp.Symbol(self.name, integer=True, positive=self.domain.lo >= 1)
        if self.kind in ("choice", "array"):
            return sp.Symbol(self.name)
        d = self.domain
        assumptions: dict = {"real": True}
        if d.lo > 0 or (d.lo == 0 and not d.lo_closed):
            assumptions["positive"] = True
        elif d.lo >= 0:
            assumptions["nonnegative"] = True
        return sp.Symbol(self.name, **assumptions)

    @property
    def tex(self) -> str:
        """The parameter's LaTeX symbol (its declared ``latex``, else SymPy's rendering of its name)."""
        return self.latex if self.latex is not None else sp.latex(sp.Symbol(self.name))


@dataclass(frozen=True)
class Between:
    """Draw spec for a parameter strictly between two anchors: ``a + (b − a)·f`` with ``f`` in
    ``(lo, hi)`` (ends emphasised). An anchor is a parameter name or a number: ``Between("u0", "s")``
    (``uf`` between ``u0`` and ``s``), ``Between(0.0, "s", 0.0, 0.5)`` (``margin`` in ``(0, s/2)``)."""

    a: str | float
    b: str | float
    lo: float = 0.0
    hi: float = 1.0
    #: the value is multiplied by ``√(Π point[name])`` (``c`` between ``−√(q1 q2)`` and ``√(q1 q2)``)
    scale: tuple[str, ...] = ()
    #: interpolate geometrically, ``a (b/a)^f`` (both anchors positive): a scale parameter between its anchors
    #: (``m`` between ``m0`` and ``1e3``, drawn as densely near ``m0 = 1e-12`` as near ``1e3``)
    log: bool = False
    #: a positive SymPy expression of other parameters the value is multiplied by (``lr`` as a fraction of the stable
    #: ``2/λ₊``: ``Between(1e-4, 0.999, log=True, factor=2/(1 + sqrt(alpha))**2)``)
    factor: sp.Expr | None = None

    @property
    def anchors(self) -> tuple[str, ...]:
        """The names of the parameters this range lies between (and those its factor depends on)."""
        extra = tuple(sorted(s.name for s in self.factor.free_symbols)) if self.factor is not None else ()
        return tuple(x for x in (self.a, self.b) if isinstance(x, str)) + self.scale + extra

    def _factor(self, point: dict, exact: bool):
        values = {s: point[s.name] for s in self.factor.free_symbols}
        f = self.factor.subs(values)
        return f if exact else float(f)

    def value(self, point: dict, fraction: float) -> float:
        """The value ``fraction`` of the way between the anchors at ``point`` (the other parameters' values)."""
        if self.factor is not None:
            inner = Between(self.a, self.b, self.lo, self.hi, self.scale, self.log)
            v = inner.value(point, fraction)
            return v * self._factor(point, not isinstance(v, float))
        a = point[self.a] if isinstance(self.a, str) else self.a
        b = point[self.b] if isinstance(self.b, str) else self.b
        f = self.lo + (self.hi - self.lo) * fraction
        if self.log:
            return min(max(a * (b / a) ** f, min(a, b)), max(a, b))
        v = a + (b - a) * f
        for name in self.scale:
            v = v * math.sqrt(float(point[name])) if isinstance(v, float) else v * sp.sqrt(point[name])
        return v


@dataclass(frozen=True)
class Relation:
    """A relation between parameters that is part of the domain; ``condition`` is a SymPy relational."""

    subject: str
    condition: sp.Basic
    text: str
    #: ``(choice parameter, value)``: the relation holds only for that value (``sigma_w2 < 2`` for ReLU)
    when: tuple[str, str] | None = None


@dataclass(frozen=True)
class Source:
    """Where a result comes from, as a reader of the paper export can follow it up.

    ``cite``: the paper's BibTeX key. ``where``: the place in that paper, in the paper's own numbering
    ("Sec. 1.3, eq. (11)"), checked against the paper's text; where it could not be checked, what the paper
    derives there, in words, and no number. ``seed``: the seed talk or abstract through which the result came to
    this project (:data:`learndyn.derive.bibliography.SEEDS` names them), and ``seed_where`` the place in it
    (provenance only: the seeds are not published)."""

    seed: str
    where: str
    cite: str
    seed_where: str = ""

    def __str__(self) -> str:
        seed = f"seed {self.seed}" + (f", {self.seed_where}" if self.seed_where else "")
        return f"{self.where} [{self.cite}]; {seed}"


class Definition:
    """Base class of the kinds of defining equation."""

    kind: str = "definition"


@dataclass(frozen=True)
class ODE(Definition):
    r"""An initial-value problem ``tau du/dt = rhs(u)`` (``tau`` may be 1), ``u(0) = initial``.

    ``hint`` is the ``dsolve`` hint, chosen deliberately (``Bernoulli`` for logistic ODEs; SymPy 1.14's
    ``1st_rational_riccati`` returned a wrong answer for one with positive symbols). ``nonzero`` lists
    parameters assumed nonzero while solving, whose zero is a removable singularity (recorded as a limit);
    ``removable`` pairs ``(param, value)`` the same way for a singularity away from 0 (``("s", gamma)``:
    solved with ``s = gamma + δ``, ``δ ≠ 0``, and the limit ``δ → 0`` recorded).
    """

    unknown: str
    time: str
    rhs: sp.Expr
    initial: sp.Expr
    tau: sp.Expr = sp.Integer(1)
    hint: str = "Bernoulli"
    nonzero: tuple[str, ...] = ()
    removable: tuple[tuple[str, sp.Expr], ...] = ()
    kind: str = "ode"

    @property
    def singular(self) -> tuple[tuple[str, sp.Expr], ...]:
        """Every ``(param, value)`` assumed unequal while solving: ``nonzero`` at 0, then ``removable``."""
        return tuple((n, sp.Integer(0)) for n in self.nonzero) + tuple(self.removable)


@dataclass(frozen=True)
class SeparableTime(Definition):
    r"""The time ``t = \int_{start}^{end} tau dv / rhs(v)`` an autonomous ODE ``tau du/dt = rhs(u)`` takes.

    ``substitution = (w, g)`` integrates in ``w`` with ``u = g(w)`` (a change of variables that makes the
    integrand rational, e.g. ``u = s w^D``); the antiderivative is taken back to ``u`` by the positive inverse
    of ``g`` and checked by differentiation in ``u``.

    ``rhs`` may be a ``Piecewise`` in the unknown whose later pieces are 0 (a hinge loss: ``g(m) = 1[m < 1]``): the
    motion stops where it enters a piece with zero rate, so the time is the integral over the moving piece up to its
    boundary and infinite beyond it. An additive term of the integrand that SymPy cannot integrate stays an
    ``Integral`` in the derived form (no elementary antiderivative): it is evaluated by quadrature, in the proofs by
    mpmath and in the emitted form by the declared implementation (say so in the result's notes)."""

    unknown: str
    rhs: sp.Expr
    start: sp.Expr
    end: sp.Expr
    tau: sp.Expr = sp.Integer(1)
    per_integer: str | None = None
    derive_for: tuple[int, ...] = ()
    substitution: tuple[sp.Symbol, sp.Expr] | None = None
    #: with ``per_integer``: SymPy also integrates with the integer left a symbol, the closed form of every value not
    #: in ``derive_for`` (the incomplete-gamma form of ``∫ x^{2/L−2} e^x dx``)
    generic: bool = False
    #: with ``per_integer``: ``((value, expr), …)``, published forms the derived closed form must equal at those values
    published: tuple[tuple[int, sp.Expr], ...] = ()
    kind: str = "separable_time"


@dataclass(frozen=True)
class Implicit(Definition):
    """``unknown`` defined implicitly by ``equation == 0``; generated as a vectorised, differentiable solve.

    With ``derive_inverse`` (the inverse of a per-integer separable time): SymPy solves the forward closed form of each
    integer value (and the generic one) for the unknown where that form is elementary (a Lambert-W or a power law),
    and the emitted implementation is proven equal to each such inverse, to the forward form's root elsewhere, and
    (where the forward rate stops at a boundary) to the boundary from the time it is reached on."""

    unknown: str
    equation: sp.Expr
    inverse_of: str | None = None
    derive_inverse: bool = False
    kind: str = "implicit"


@dataclass(frozen=True)
class Solve(Definition):
    """``unknown`` is the solution of ``equation`` (a SymPy ``Eq``), which SymPy solves in closed form; the
    solution must be unique and is proven by substitution (e.g. the weight decay whose fixed point equals
    that of input noise)."""

    unknown: str | tuple[str, ...]
    equation: sp.Basic | tuple[sp.Basic, ...]
    #: ``((name, expr), …)``: several outputs, as expressions of the unknowns (``c* = 1`` beside ``q*``)
    outputs: tuple[tuple[str, sp.Expr], ...] = ()
    #: further equations the outputs must satisfy (proven by substitution)
    checks: tuple[sp.Basic, ...] = ()
    #: ``((symbol, expr), …)``: coefficients solved for as symbols, then replaced by their values (earlier results)
    given: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    kind: str = "solve"


@dataclass(frozen=True)
class RandomClock(Definition):
    r"""Expected hitting time of an ODE whose clock runs only on random steps.

    The dynamics ``tau du/dt = rhs(u)`` advance only on a step where an event of probability ``probability``
    happens (a dropped unit carries no gradient); the active time from ``start`` to ``end`` is
    ``t_a = \int tau dv / rhs(v)``, each active step costs a Geometric(``p``) number of steps, so by
    Wald's identity ``E[t] = E[G] · t_a`` with ``E[G]`` derived by ``sympy.stats``.
    """

    unknown: str
    rhs: sp.Expr
    start: sp.Expr
    end: sp.Expr
    probability: str
    tau: sp.Expr = sp.Integer(1)
    kind: str = "random_clock"


@dataclass(frozen=True)
class UpperBound(Definition):
    """A published upper bound ``expr`` on another result ``of`` (same parameters): proven by showing
    ``expr − of`` equals the declared ``gap`` symbolically and ``gap > 0`` on the domain."""

    of: str
    expr: sp.Expr
    gap: sp.Expr
    kind: str = "upper_bound"


def solved_variable(name: str):
    """The solved variable of implicit result ``name`` (``θ*`` of the correlation fixed point), for an
    ``implementation`` that reuses it: printed as a call of the emitted solver ``_solve_NAME``."""
    from learndyn.derive.printer import SOLVED_PREFIX

    return sp.Function(SOLVED_PREFIX + name)


def ref(name: str, output: str | None = None):
    """A call of an earlier result of the same family inside a definition: ``ref("correlation_map")(c, mu2)``
    (arguments in that result's parameter order); the engine substitutes the earlier derivation. ``output``
    picks one output of a result with several; a result declared :class:`ByChoice` is referred to per value
    as ``NAME_VALUE`` (``ref("kernel_fixed_point_erf", "q_star")``)."""
    return sp.Function(name if output is None else f"{name}.{output}")


@dataclass(frozen=True)
class GaussianMap(Definition):
    r"""``unknown = expr``, where ``expr`` holds Gaussian expectations ``GaussE(f, z1, …)`` over iid standard
    normal variables (e.g. ``q' = σ_w² μ2 E_z[φ(√q z)²] + σ_b²``).

    The engine integrates them one variable at a time (the last first), splitting at the kinks of the
    rectifiers; what SymPy cannot integrate is reduced to a one-dimensional integral with the inner ones
    in closed form and proven against the published form by mpmath quadrature at seeded points.
    ``auxiliary`` parameters appear in the definition but must cancel (``q`` and ``σ_w`` in the correlation
    map); their ``test`` ranges supply the proof points."""

    unknown: str
    expr: sp.Expr
    auxiliary: tuple[Param, ...] = ()
    kind: str = "gaussian"


@dataclass(frozen=True)
class Recurrence(Definition):
    """The earlier result ``of`` (a map of its parameter ``var``) applied ``steps`` times, starting from
    ``var``: solved by ``rsolve``, proven by substitution; ``removable`` names a parameter whose value
    making the map's slope 1 is a removable singularity of the solution (solved for and recorded)."""

    of: str
    var: str
    steps: str
    removable: tuple[str, ...] = ()
    kind: str = "recurrence"


@dataclass(frozen=True)
class Root(Definition):
    r"""Unknowns defined by ``equations`` (``Eq`` in the parameters, the unknowns and ``ref`` calls),
    solved through one scalar ``equation`` in a solver ``variable`` that is increasing on ``bracket``.

    ``outputs`` give each unknown as a function of the variable (``c* = cos θ``). The engine proves that
    the outputs satisfy every defining equation exactly when ``equation = 0`` (each residual is
    ``equation`` times a factor that does not vanish), that ``equation`` is increasing and changes sign on
    the bracket (so the root exists and is unique), and emits a vectorised, differentiable solver."""

    equations: tuple[sp.Basic, ...]
    variable: sp.Symbol
    bracket: tuple[sp.Expr, sp.Expr]
    equation: sp.Expr
    outputs: tuple[tuple[str, sp.Expr], ...]
    guess: sp.Expr | None = None
    #: the solver's name (default: the result's); a later stage refers to its root as ``solved_variable(name)``
    name: str = ""
    #: ``((symbol, expr), …)``: symbols of the equations given by earlier stages (``q*`` from its own root),
    #: passed to the solver as extra arguments
    given: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    #: where the root exists (the chaotic phase); elsewhere the emitted equation must vanish exactly at the lower end
    where: sp.Basic | None = None
    #: ``(((integer parameter, value), …), check), …``: published statements at those integer values, proven at seeded
    #: points: an ``Eq`` in the parameters and the outputs that holds at the root, or an expression the first output equals
    published: tuple = ()
    kind: str = "root"


@dataclass(frozen=True)
class Composite(Definition):
    """``unknown = expr`` built from earlier results (``ref`` calls), derivatives (``sp.Derivative``) and
    substitutions (``sp.Subs``): a slope at a fixed point, a depth scale from a slope."""

    unknown: str
    #: the expression, or ``((name, expr), …)`` for several outputs (``xi_1`` and ``xi_c``)
    expr: sp.Expr | tuple[tuple[str, sp.Expr], ...]
    kind: str = "composite"


@dataclass(frozen=True)
class FreeProduct(Definition):
    r"""Variance of the spectrum of a product of freely independent unit-mean factors (free probability).

    ``factors`` maps each value of the categorical parameter ``choice`` to ``(X, count)`` pairs: ``X`` a
    ``sympy.stats`` random expression (the spectral law of one factor) and ``count`` how many such factors
    there are. Each factor's S-transform ``S(w) = 1 − v w + O(w²)`` is derived from its moments by series
    reversion; S-transforms multiply, and the product's variance is ``−S'(0)``."""

    choice: str
    factors: tuple[tuple[str, tuple[tuple[sp.Basic, sp.Expr], ...]], ...]
    published: tuple[tuple[str, sp.Expr], ...] = ()
    kind: str = "free_product"


@dataclass(frozen=True)
class KernelComposition(Definition):
    r"""The readout kernel of a fully-connected network (``output``: ``"nngp"`` or ``"ntk"``), composed layer by layer.

    Input kernel ``K⁰ = x1 x2ᵀ/d``; ``hidden_layers`` blocks of a dense layer (``K ↦ σ_w² K + σ_b²``,
    ``Θ ↦ K + σ_w² Θ``, ``Θ⁰ = 0``) then an activation (``K ↦ T(K)``, ``Θ ↦ Ṫ(K) ⊙ Θ``); then a dense readout.
    ``maps`` names, per value of the categorical parameter ``choice``, the earlier results ``(T, Ṫ)``; the
    emitted layer evaluates their stable forms with the carried ``det = q1 q2 − c²`` in place of a recomputed
    one. ``carried`` gives per activation ``(name, form)`` pairs: the stable forms of ``det_t = T11 T22 − T12²``,
    ``dist_t = T11 + T22 − 2 T12`` and ``diff_t = T11 − T22``, and optionally ``t12`` in place of the map's own form, in
    the symbols ``q1, q2, c`` and the carried ``det = q1 q2 − c²``, ``diff = q1 − q2`` (each proven equal to the
    maps' values). ``fast`` gives per activation, optionally, the forms of a cheaper layer: ``t12`` (and optionally
    ``diff_t``), each proven equal to the maps' values, with ``det_t`` and ``dist_t`` from their definitions; the
    composition evaluates it on every pair and the carried layer only where a per-entry bound on the definitions'
    cancellation is not met (:func:`learndyn.numerics.kernels.compose`)."""

    output: str
    choice: str
    maps: tuple[tuple[str, tuple[str, str]], ...]
    carried: tuple[tuple[str, tuple[tuple[str, sp.Expr], ...]], ...]
    fast: tuple[tuple[str, tuple[tuple[str, sp.Expr], ...]], ...] = ()
    kind: str = "kernel_composition"


@dataclass(frozen=True)
class SpectralFlow(Definition):
    r"""Gradient flow of the squared error on a fixed kernel, solved per eigenmode and lifted to matrices.

    Along an eigenvector of the symmetric PSD kernel ``Θ`` (eigenvalue ``λ``) the training outputs follow
    ``du/dt = −r λ (u − y)``, ``u(0) = u0``, and a test output coupled to the mode by ``κ`` follows
    ``dv/dt = −r κ (u − y)``, ``v(0) = v0``, with ``r = rate``. SymPy solves both (``dsolve``, then integration) and
    proves them by substitution; the matrix results follow by the functional calculus of ``Θ``:

    * ``"train"``: ``f_t = Y + F(Θ)(f0 − Y)``, ``F(λ) = (u − y)/(u0 − y)``;
    * ``"test"``: ``f_t(X*) = f0(X*) + Θ_{*X} G(Θ)(Y − f0)``, ``G(λ) = (v − v0)/(κ (y − u0))``;
    * ``"mean"``: the ``t → ∞`` limit of the test prediction with ``E f0 = 0``: ``Θ_{*X} Θ⁻¹ Y``;
    * ``"condition"``: the ratio of the slowest mode's time constant to the fastest's, ``λ_max/λ_min``.

    ``rate`` is in the result's symbols and the data sizes ``n`` (rows of ``y_train``) and ``k`` (its columns)."""

    output: str
    rate: sp.Expr = sp.Integer(1)
    kind: str = "spectral_flow"


@dataclass(frozen=True)
class SpectralDensity:
    r"""A spectral density with square-root edges: ``ρ(λ) = atom·δ(λ) + density(λ)`` with the bulk ``density`` supported
    on ``[lower, upper]`` and of the form ``w(λ) √((upper − λ)(λ − lower))``, ``w`` rational in ``λ`` (the engine
    factors it out and proves the factorisation).

    ``regimes`` are ``(condition, sample point)`` pairs covering the parameters' domain but for its boundaries (the
    Marchenko–Pastur law: ``alpha < 1`` and ``alpha > 1``): within a regime, which poles of a rational integrand lie
    inside the unit circle of ``λ = c + R(z + 1/z)`` is fixed, so SymPy integrates rational functions against the
    density by residues, regime by regime (the sample point tells which poles are inside); on a boundary between two
    regimes the result is the limit. The generated functions integrate in the angle of ``λ = lower + (upper − lower)
    sin²(θ/2)`` (:mod:`learndyn.numerics.spectral_density`)."""

    variable: sp.Symbol
    density: sp.Expr
    lower: sp.Expr
    upper: sp.Expr
    atom: sp.Expr = sp.Integer(0)
    regimes: tuple[tuple[sp.Basic, dict], ...] = ()
    #: the density's name in LaTeX
    tex: str = r"\rho"

    def __post_init__(self) -> None:  # sample points kept as sorted pairs: a declaration is hashable
        regimes = tuple((cond, tuple(sorted(dict(sample).items(), key=lambda kv: str(kv[0]))))
                        for cond, sample in self.regimes)
        object.__setattr__(self, "regimes", regimes)


@dataclass(frozen=True)
class ModeDynamics:
    r"""How one eigenmode (eigenvalue ``λ`` of the density's variable) evolves, with ``unknown`` its state:

    * ``rhs``: the ODE ``d unknown/d time = rhs``, ``unknown(0) = initial`` (``dsolve``, proven by ``checkodesol``);
    * ``step``: the recurrence ``unknown_{time+1} = step`` (``rsolve``, proven by substitution), an exact discrete
      dynamics such as gradient descent;
    * ``equation``: a stationary state solving ``equation`` (``solve``; ridge regression's normal equations).

    ``sources`` are ``(symbol, variance)`` of independent centred random variables the state depends on linearly
    (the initial error, the label noise of the mode); the integrand is the expectation of a quadratic quantity over
    them."""

    unknown: str
    sources: tuple[tuple[sp.Symbol, sp.Expr], ...]
    time: str | None = None
    rhs: sp.Expr | None = None
    step: sp.Expr | None = None
    initial: sp.Expr | None = None
    equation: sp.Basic | None = None


@dataclass(frozen=True)
class SpectralIntegral(Definition):
    r"""A result that integrates a per-mode quantity against a spectral density:

        value = atom · a(t) + scale · ∫ ρ(λ) E[quantity] dλ + extra,

    with ``E[quantity]`` the expectation of ``quantity`` (quadratic in the mode's ``sources``) at the state ``mode``
    derives, and ``a(t)`` its limit ``λ → 0`` (the frozen modes of the atom; ``atom=False`` leaves them out). Without a
    ``mode`` the quantity is a function of ``λ`` alone (a Stieltjes transform); with ``quantity=None`` the result is the
    bulk density itself.

    ``limit``: the value as the mode's time goes to infinity, integrated in closed form by residues (the limiting
    integrand is rational in ``λ``); a result without time whose integrand is rational is integrated in closed form too.
    ``stationary = (time output, value output)``: the time where the value is stationary (the root of
    ``∫ρ ∂_t E[quantity]``) and the value there; with ``gap`` the single output is the ``t → ∞`` value minus the value
    at the stationary time (the cost of not stopping there)."""

    density: SpectralDensity
    quantity: sp.Expr | None
    mode: ModeDynamics | None = None
    atom: bool = True
    scale: sp.Expr = sp.Integer(1)
    extra: sp.Expr = sp.Integer(0)
    limit: bool = False
    stationary: tuple[str, str] | None = None
    gap: bool = False
    #: a published closed form the derived one must equal (a limit, a Stieltjes transform)
    published: sp.Expr | None = None
    kind: str = "spectral_integral"


@dataclass(frozen=True)
class ByChoice(Definition):
    r"""One definition per value of the categorical parameter ``choice`` (``activation``): ``cases`` maps each
    value to a sequence of definitions derived in order (earlier stages are roots whose solved variables the
    later ones use); the last gives the outputs. ``defining`` is the defining equation common to all values
    (for the LaTeX); ``published`` and ``implementations`` map values to the published and emitted forms of
    the last stage. Each value's derivation is registered as ``NAME_VALUE`` for later results to ``ref``."""

    choice: str
    cases: tuple[tuple[str, tuple[Definition, ...]], ...]
    defining: sp.Basic
    published: tuple[tuple[str, sp.Expr], ...] = ()
    implementations: tuple[tuple[str, sp.Expr], ...] = ()
    kind: str = "by_choice"


@dataclass(frozen=True)
class ClosedForm(Definition):
    """A result given directly as an expression of its parameters."""

    expr: sp.Expr
    kind: str = "closed_form"


@dataclass(frozen=True)
class Result:
    """One result: declared once, everything else derived from it."""

    name: str
    title: str
    params: tuple[Param, ...]
    definition: Definition
    symbol_tex: str
    assumptions: tuple[str, ...]
    source: Source
    published: sp.Expr | None = None
    relations: tuple[Relation, ...] = ()
    implementation: sp.Expr | None = None
    notes: tuple[str, ...] = ()
    stability: str = ""
    #: ``(param, value, what the function returns)`` where the true derivative is infinite (not checked finite)
    infinite_derivative: tuple[tuple[str, float, str], ...] = ()

    def param(self, name: str) -> Param:
        """The declared parameter ``name`` (``KeyError`` if the result has none)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters' names, in the signature's order."""
        return tuple(p.name for p in self.params)

    @property
    def symbols(self) -> dict[str, sp.Symbol]:
        """The parameters' SymPy symbols by name."""
        return {p.name: p.symbol for p in self.params}


@dataclass(frozen=True)
class Claim:
    """A qualitative statement checked as a property against simulation (kind 6)."""

    name: str
    statement: str
    about: tuple[str, ...]
    source: Source


@dataclass(frozen=True)
class Family:
    """A family of results and the claims about them; generated into one module ``generated/<name>.py``."""

    name: str
    title: str
    results: tuple[Result, ...]
    claims: tuple[Claim, ...] = ()
    #: entries for citation keys that :data:`learndyn.derive.bibliography.REFERENCES` lacks (a user's own
    #: family): key -> the reference as one line of text
    bibliography: Mapping[str, str] = field(default_factory=dict)

    def result(self, name: str) -> Result:
        """The family's result ``name`` (``KeyError`` if it has none)."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)
