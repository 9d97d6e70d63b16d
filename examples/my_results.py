"""A family of your own: declare results here, with their simulation checks, then

    learndyn derive --module examples/my_results.py --out my_generated
    learndyn verify --module examples/my_results.py --out my_generated          # tier a and tier b
    learndyn verify --module examples/my_results.py --out my_generated --power  # what error tier b detects

``derive`` solves and proves each result and writes ``my_generated/regression.py`` (torch) and
``my_generated/regression.tex``; nothing is written into the installed package.
"""
import functools
import math

import sympy as sp
import torch

from learndyn.derive.declaration import ODE, Family, Interval, Param, Result, Source
from learndyn.verify.tier_b import OUTPUT, Measurement, Richardson, SimulationCheck
from learndyn.verify.validity import lr_axis

T = Param("t", Interval(0.0, math.inf, lo_closed=True), test=Interval(1e-6, 1e6, True, True), log=True,
          special=(0.0,), description="gradient-descent steps")
# each parameter: its domain, the range tier a draws from (test) and the range a simulation covers (sim)
S = Param("s", Interval(0.0, math.inf), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True),
          log=True, description="target strength")
U0 = Param("u0", Interval(0.0, math.inf), test=Interval(1e-9, 1e3, True, True), sim=Interval(1e-2, 3.0, True, True),
           log=True, latex="u_0", description="initial weight")
TAU = Param("tau", Interval(0.0, math.inf), test=Interval(1e-3, 1e3, True, True), sim=Interval(20.0, 200.0, True, True),
            log=True, latex=r"\tau", description="time constant 1/lr")

t, s, u0, tau = (p.symbol for p in (T, S, U0, TAU))
u = sp.Symbol("u")  # the unknown of the ODE

linear_regression_trajectory = Result(
    name="linear_regression_trajectory",
    title="A one-layer linear network (linear regression) along one mode",
    params=(T, S, U0, TAU),
    definition=ODE("u", "t", rhs=s - u, initial=u0, tau=tau, hint="1st_linear"),   # tau du/dt = s - u
    published=s + (u0 - s) * sp.exp(-t / tau),                                      # checked, not used
    symbol_tex="u(t)",
    assumptions=("whitened inputs", "gradient flow"),
    source=Source("-", "textbook", "saxe2014exact"),
)

FAMILY = Family(name="regression", title="My results", results=(linear_regression_trajectory,),
                bibliography={"saxe2014exact": "Saxe, McClelland, Ganguli. ICLR 2014."})


def simulate_regression(case, sizes, device):
    """Gradient descent on ``L = ½ (s − w)²`` from ``w = u0`` at ``lr = 1/tau`` and at ``lr/2`` (twice the steps, the
    same flow times recorded), for ``5 tau`` steps: GD is the Euler method of ``tau du/dt = s − u``, so Richardson
    ``2u(lr/2) − u(lr)`` removes its first-order error."""
    s, u0, tau = case["s"], case["u0"], case["tau"]
    if "lr_lambda" in sizes:  # a validity map sets lr·λ_max (λ_max = 1, the Hessian of L): lr = 1/tau
        tau = 1.0 / sizes["lr_lambda"]
    steps = max(int(5 * tau), 1)
    runs = []
    for k in ((1, 2) if sizes.get("fine_run", True) else (1,)):  # a validity map needs only the run at lr
        w = torch.tensor(u0, dtype=torch.float64, device=device)
        records = []
        for i in range(k * steps + 1):
            if i % k == 0:
                records.append(w)
            w = w - (w - s) / (k * tau)   # w <- w - lr dL/dw
        runs.append(torch.stack(records))
    t = torch.arange(steps + 1, dtype=torch.float64, device=device)
    return Measurement(args=dict(t=t, s=s, u0=u0, tau=tau), observed={OUTPUT: runs[0]},
                       fine={OUTPUT: runs[1]} if len(runs) > 1 else None,
                       reduce_dims=(0,), scale=max(s, u0), where=f"s={s:.3g}, u0={u0:.3g}, tau={tau:.3g}")


@functools.lru_cache(maxsize=None)
def regression_first_order():
    """``E`` derived and proven once from the per-step map ``u ← u + lr (s − u)`` (learndyn.verify.validity.first_order)."""
    from learndyn.verify.validity.first_order import derive_first_order

    u_, u0_, lr_, s_ = sp.symbols("u u0 lr s", positive=True)
    return derive_first_order(u_ + lr_ * (s_ - u_), u_, lr_, u0_, (s_,))


def first_order_deviation(m, value):
    """GD's first-order deviation from the flow, ``lr·|E(u)|``, worst over the records, in the check's units."""
    fo = regression_first_order()
    a = m.args
    u = a["s"] + (a["u0"] - a["s"]) * torch.exp(-a["t"] / a["tau"])  # the flow at the records
    E = fo.coefficient(u.numpy(), a["u0"], s=a["s"])
    return torch.as_tensor(abs(E) / a["tau"] / m.scale).amax()


# tier b, declared beside the result: which simulation runs, how it is compared, at which points; the axes
# `learndyn validity` may sweep past the simulation range (here lr·λ_max, with the first-order theory of the breakdown)
SIMULATIONS = (
    SimulationCheck(result="linear_regression_trajectory", title="GD on linear regression, Richardson", method="gd",
                    simulate=simulate_regression, compare=Richardson(tol=1e-3), draws=("s", "u0", "tau"),
                    points=({"s": 1.0, "u0": 0.01, "tau": 50.0}, {"s": 2.0, "u0": 3.0, "tau": 20.0}),
                    examples_per_case=25,
                    axes=(lr_axis(start=0.05, predicted=first_order_deviation,
                                  predicted_by="GD's first-order deviation lr·E(u) from the per-step map"),)),
)
