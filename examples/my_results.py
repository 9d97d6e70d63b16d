"""A family of your own: declare results here, then

    learndyn derive --module examples/my_results.py --out my_generated
    learndyn verify --module examples/my_results.py --out my_generated

``derive`` solves and proves each result and writes ``my_generated/regression.py`` (torch) and
``my_generated/regression.tex``; nothing is written into the installed package.
"""
import math

import sympy as sp

from learndyn.derive.declaration import ODE, Family, Interval, Param, Result, Source

T = Param("t", Interval(0.0, math.inf, lo_closed=True), test=Interval(1e-6, 1e6, True, True), log=True,
          special=(0.0,), description="gradient-descent steps")
S = Param("s", Interval(0.0, math.inf), test=Interval(1e-3, 1e3, True, True), log=True, description="target strength")
U0 = Param("u0", Interval(0.0, math.inf), test=Interval(1e-9, 1e3, True, True), log=True, latex="u_0",
           description="initial weight")
TAU = Param("tau", Interval(0.0, math.inf), test=Interval(1e-3, 1e3, True, True), log=True, latex=r"\tau",
            description="time constant 1/lr")

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
