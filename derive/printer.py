"""The project's torch printer: SymPy's ``TorchPrinter`` extended by ``_print_X`` methods.

Fixes over SymPy 1.14's stock printer: numeric subexpressions print as Python float literals (the stock
one prints ``sqrt(2)`` as ``torch.sqrt(2)``, a TypeError, and a float32 constant would cost precision);
``Max(x, 0)``/``Min(x, 0)`` print as ``torch.clamp`` (the stock ``torch.max(0, x)`` is a TypeError, and
``torch.max(x, 0)`` would silently reduce over dim 0); ``Piecewise`` ends in its ``True`` branch;
``erfc``, ``expm1``, ``log1p`` and the project's stable functions print as their torch implementations.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.pycode import PythonCodePrinter
from sympy.printing.pytorch import TorchPrinter

from learndyn.derive import functions as F

__all__ = ["LearndynTorchPrinter", "DoubleDoublePrinter", "torch_code", "RUNTIME_IMPORTS", "SOLVED_PREFIX"]

#: modules the generated code imports, by the alias the printer uses
RUNTIME_IMPORTS = {
    "_special": "learndyn.numerics.special",
    "_deep_mode": "learndyn.numerics.deep_mode",
    "_roots": "learndyn.numerics.roots",
    "_kernels": "learndyn.numerics.kernels",
    "_flow": "learndyn.numerics.flow",
    "_lambert": "learndyn.numerics.lambert",
    "_margin_time": "learndyn.numerics.margin_time",
    "_margin_trajectory": "learndyn.numerics.margin_trajectory",
    "_crossing": "learndyn.numerics.crossing",
    "_spectral_density": "learndyn.numerics.spectral_density",
    "_double_double": "learndyn.numerics.double_double",
}

#: prefix of the SymPy function that stands for the solved variable of an implicit result NAME
SOLVED_PREFIX = "solve_"


class LearndynTorchPrinter(TorchPrinter):
    """Prints SymPy expressions as plain torch code for float64 (or any floating dtype) tensors."""

    def __init__(self, settings=None):
        super().__init__(dict(settings or {}, fully_qualified_modules=True))
        #: names of symbols that hold Python numbers (common subexpressions of the integer parameters alone)
        self.scalar_names: frozenset = frozenset()
        #: inside a spectral integrand: ``(λ, name of λ's low part)`` (the nodes are carried in double-double)
        self.low_part: tuple | None = None

    def _scalar(self, expr) -> bool:
        """Whether ``expr`` is a function of integer parameters (and Python-number subexpressions) alone."""
        return (isinstance(expr, sp.Expr) and not isinstance(expr, sp.Integer) and bool(expr.free_symbols)
                and all(s.is_integer or s.name in self.scalar_names for s in expr.free_symbols)
                and not expr.has(sp.Piecewise) and not isinstance(expr, sp.Symbol))

    # -- constants ---------------------------------------------------------------------------------
    def _print_number(self, expr: sp.Expr) -> str:
        if expr.is_Integer:
            return str(int(expr))
        if expr in (sp.oo, -sp.oo):
            return "math.inf" if expr == sp.oo else "-math.inf"
        value = complex(sp.N(expr, 30))
        if value.imag == 0:
            return repr(float(value.real))
        return repr(value)

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Expr) and expr.is_number and not expr.has(sp.nan, sp.zoo):
            return self._print_number(expr)
        if self._scalar(expr):
            return _IntegerPrinter(self).doprint(expr)  # a function of integer parameters only: Python numbers
        return super()._print(expr, **kwargs)

    # -- arithmetic ------------------------------------------------------------------------------------
    def _print_Pow(self, expr: sp.Pow) -> str:
        base, exp = expr.args
        if exp == sp.S.Half:
            return f"torch.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"torch.rsqrt({self._print(base)})"
        if exp == -1:
            return f"(1/{self.parenthesize(base, 60)})"
        if exp.is_Integer and 2 <= int(exp) <= 4:
            return f"{self.parenthesize(base, 60)}**{int(exp)}"
        return f"torch.pow({self._print(base)}, {self._print(exp)})"

    def _minmax(self, expr, side: str, pair: str) -> str:
        args = list(expr.args)
        consts = [a for a in args if a.is_number]
        others = [a for a in args if not a.is_number]
        out = self._print(others[0])
        for a in others[1:]:
            out = f"torch.{pair}({out}, {self._print(a)})"
        for c in consts:
            out = f"torch.clamp({out}, {side}={self._print(c)})"
        return out

    def _print_Max(self, expr):
        return self._minmax(expr, "min", "maximum")

    def _print_Min(self, expr):
        return self._minmax(expr, "max", "minimum")

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        (e, cond), rest = expr.args[0], expr.args[1:]
        if cond == sp.true:
            return self._print(e)
        if not rest:
            raise ValueError(f"Piecewise without a True branch cannot be printed: {expr}")
        return f"torch.where({self._print(cond)}, {self._print(e)}, {self._print(sp.Piecewise(*rest))})"

    def _print_Relational(self, expr):
        ops = {">": "torch.gt", ">=": "torch.ge", "<": "torch.lt", "<=": "torch.le", "==": "torch.eq", "!=": "torch.ne"}
        return f"{ops[expr.rel_op]}({self._print(expr.lhs)}, {self._print(expr.rhs)})"

    def _print_And(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"torch.logical_and({out}, {self._print(a)})"
        return out

    def _print_Or(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"torch.logical_or({out}, {self._print(a)})"
        return out

    # -- special functions -----------------------------------------------------------------------------
    def _print_erfc(self, expr):
        return f"torch.special.erfc({self._print(expr.args[0])})"

    def _print_expm1(self, expr):
        return f"torch.expm1({self._print(expr.args[0])})"

    def _print_log1p(self, expr):
        return f"torch.log1p({self._print(expr.args[0])})"

    def _print_exprel(self, expr):
        return f"_special.exprel({self._print(expr.args[0])})"

    def _print_log1prel(self, expr):
        return f"_special.log1prel({self._print(expr.args[0])})"

    def _print_LambertW(self, expr):
        if len(expr.args) > 1 and expr.args[1] != 0:
            raise ValueError(f"only the principal branch of LambertW is printed: {expr}")
        if isinstance(expr.args[0], sp.exp):  # W₀(e^y) = ω(y), also where e^y overflows
            return f"_lambert.wright_omega({self._print(expr.args[0].args[0])})"
        return f"_lambert.lambertw({self._print(expr.args[0])})"

    def _print_LogisticMarginTime(self, expr):
        *reals, depth = expr.args
        return f"_margin_time.logistic_margin_time({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_LogisticMarginTrajectory(self, expr):
        *reals, depth = expr.args
        return (f"_margin_trajectory.logistic_margin_trajectory({', '.join(self._print(a) for a in reals)}, "
                f"{self._print(depth)})")

    def _print_HingeMarginTime(self, expr):
        *reals, depth = expr.args
        return f"_margin_time.hinge_margin_time({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_HingeMarginTrajectory(self, expr):
        *reals, depth = expr.args
        return f"_margin_trajectory.hinge_margin_trajectory({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_InflectionTime(self, expr):
        *reals, depth = expr.args
        return f"_margin_time.logistic_inflection_time({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_CrossingTail(self, expr):
        return f"_crossing.crossing_tail({', '.join(self._print(a) for a in expr.args)})"

    def _print_BulkIntegral(self, expr):
        name, lower, width, *args = expr.args
        return (f"_spectral_density.bulk_integral({name.name}, {self._print(lower)}, {self._print(width)}, "
                f"({', '.join(self._print(a) for a in args)},))")

    def _print_BulkDensity(self, expr):
        name, lam, lower, width, *args = expr.args
        return (f"_spectral_density.bulk_density({name.name}, {self._print(lam)}, {self._print(lower)}, "
                f"{self._print(width)}, {self._tuple(args)})")

    def _tuple(self, args) -> str:
        """A Python tuple of printed expressions (``()`` when empty)."""
        return f"({', '.join(self._print(a) for a in args)},)" if args else "()"

    def _print_BulkRoot(self, expr):
        slope, curvature, lower, width, *args = expr.args
        return (f"_spectral_density.bulk_root({slope.name}, {curvature.name}, {self._print(lower)}, {self._print(width)}, "
                f"({', '.join(self._print(a) for a in args)},))")

    def _decay_base(self, x) -> str:
        """A product ``lr·λ`` is passed as its two factors (the base ``1 − lr λ`` is formed without its rounding)."""
        if isinstance(x, sp.Mul) and len(x.args) == 2 and not any(a.is_number for a in x.args):
            return f"({self._print(x.args[0])}, {self._print(x.args[1])})"
        return self._print(x)

    def _print_DecayFactors(self, expr):
        """``(lr, λ)``, or inside an integrand ``(lr, λ, λ_lo)`` with the node's low part (double-double nodes)."""
        a, b = expr.args
        if self.low_part is not None and self.low_part[0] in (a, b):
            lam, low = self.low_part
            other = b if a == lam else a
            return f"({self._print(other)}, {self._print(lam)}, {low})"
        return f"({self._print(a)}, {self._print(b)})"

    def _print_PowDecay(self, expr):
        return f"_spectral_density.pow_decay({self._decay_base(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_PowDecayGap(self, expr):
        return f"_spectral_density.pow_decay_gap({self._decay_base(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_DeepModeTime(self, expr):
        *reals, depth = expr.args
        return f"_deep_mode.deep_mode_time({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_DeepModeTrajectory(self, expr):
        *reals, depth = expr.args
        return f"_deep_mode.deep_mode_trajectory({', '.join(self._print(a) for a in reals)}, {self._print(depth)})"

    def _print_Ndtr(self, expr):
        return f"_special.ndtr({self._print(expr.args[0])})"

    def _print_ReluKernel(self, expr):
        return f"_special.relu_kernel({self._print(expr.args[0])})"

    def _print_SinMinusXCos(self, expr):
        return f"_special.sin_minus_x_cos({self._print(expr.args[0])})"

    def _print_LogSinc(self, expr):
        return f"_special.log_sinc({self._print(expr.args[0])})"

    def _print_LogAsinc(self, expr):
        return f"_special.log_asinc({self._print(expr.args[0])})"

    def _print_ErfAngleGap(self, expr):
        return f"_special.erf_angle_gap({', '.join(self._print(a) for a in expr.args)})"

    def _print_ErfNormGap(self, expr):
        return f"_special.erf_norm_gap({', '.join(self._print(a) for a in expr.args)})"

    def _print_Gram2(self, expr):
        return f"_special.gram2({', '.join(self._print(a) for a in expr.args)})"

    def _print_ArcCosKernel(self, expr):
        return f"_special.arccos_kernel({', '.join(self._print(a) for a in expr.args)})"

    def _print_atan2(self, expr):
        return f"torch.atan2({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_sinc(self, expr):
        return f"torch.sinc({self._print(expr.args[0])}/math.pi)"  # torch.sinc(x) = sin(πx)/(πx)

    def _print_Infinity(self, expr):
        return "math.inf"

    def _print_Geom(self, expr):
        return f"_special.geometric_sum({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_HalfErfc(self, expr):
        return f"(0.5*torch.special.erfc({self._print(expr.args[0])}))"

    def _print_AffineIterate(self, expr):
        return f"_special.affine_iterate({', '.join(self._print(a) for a in expr.args)})"

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name.startswith(SOLVED_PREFIX):  # the solved variable of an implicit result: its emitted solver
            return f"_{name}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    def _print_Symbol(self, expr):
        return expr.name


class _IntegerPrinter(PythonCodePrinter):
    """An expression in integer parameters alone (``(2 − 2/depth) e^{−(2 − 2/depth)}``) as Python arithmetic with the
    ``math`` module; a function the ``math`` module lacks (``LambertW``) as its torch implementation, which takes a
    Python float."""

    def __init__(self, outer: "LearndynTorchPrinter"):
        super().__init__({"fully_qualified_modules": True})
        self._outer = outer

    def _print_LambertW(self, expr):
        return f"float(_lambert.lambertw({self._print(expr.args[0])}))"

    def _print_Symbol(self, expr):
        return expr.name


class DoubleDoublePrinter:
    """Prints an arithmetic expression (sums, products, integer and half-integer powers, numbers, symbols) as calls of
    :mod:`learndyn.numerics.double_double` that evaluate it to about 32 digits (a symbol is a float64 tensor with a
    zero low part; a number is its correctly rounded pair). Anything else raises ``NotImplementedError``."""

    alias = "_double_double"

    def doprint(self, expr: sp.Expr) -> str:
        expr = sp.sympify(expr)
        if expr.is_number:
            value = sp.N(expr, 40)
            if not value.is_real:
                raise NotImplementedError(f"a complex constant in double-double: {expr}")
            hi = float(value)
            return f"({hi!r}, {float(value - sp.Float(hi, 40))!r})"
        if isinstance(expr, sp.Symbol):
            return expr.name
        if isinstance(expr, sp.Add):
            return self._fold("add", expr.args)
        if isinstance(expr, sp.Mul):
            coeff, rest = expr.as_coeff_Mul()
            if coeff == -1:
                return f"{self.alias}.neg({self.doprint(rest)})"
            return self._fold("mul", expr.args)
        if isinstance(expr, sp.Pow):
            base, exp = expr.args
            if exp.is_Integer:
                return f"{self.alias}.pow({self.doprint(base)}, {int(exp)})"
            if exp.is_Rational and exp.q == 2:
                root = f"{self.alias}.sqrt({self.doprint(base)})"
                return root if exp.p == 1 else f"{self.alias}.pow({root}, {int(exp.p)})"
        raise NotImplementedError(f"no double-double form for {sp.sstr(expr)}")

    def _fold(self, op: str, args) -> str:
        out = self.doprint(args[0])
        for a in args[1:]:
            out = f"{self.alias}.{op}({out}, {self.doprint(a)})"
        return out


def torch_code(expr: sp.Expr) -> str:
    """Print one expression with :class:`LearndynTorchPrinter`."""
    return LearndynTorchPrinter().doprint(expr)
