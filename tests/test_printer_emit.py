"""Tests of the torch printer (learndyn.derive.printer), the emitted modules under generated/, the
determinism of `learndyn derive`, and its --check / --out / --force behaviour.

Printed code is executed on torch tensors and compared with values computed independently (Python's
math module, mpmath); generated files are checked byte for byte against a fresh render.
"""
from __future__ import annotations

import ast
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest
import sympy as sp
import torch

from learndyn.derive import functions as F
from learndyn.derive.printer import torch_code
from learndyn.numerics import special

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "generated"
GENERATED_FILES = ("__init__.py", "catalogue.json", "linear.py", "linear.tex", "regularisation.py", "regularisation.tex",
                   "signal_propagation.py", "signal_propagation.tex", "ntk.py", "ntk.tex", "classification.py",
                   "classification.tex", "generalisation.py", "generalisation.tex")
LEARNDYN = str(Path(sys.executable).with_name("learndyn"))

x, y = sp.symbols("x y", real=True)


def compile_expr(expr: sp.Expr, args=(x,)):
    """The printed code as a Python function of ``args`` (namespace: torch and the runtime helpers only)."""
    code = torch_code(expr)
    src = f"def _f({', '.join(a.name for a in args)}):\n    return {code}\n"
    ns: dict = {"torch": torch, "_special": special}
    exec(compile(src, "<printed>", "exec"), ns)
    return ns["_f"], code


def run(args: list[str], env: dict | None = None, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)


# ------------------------------------------------------------------------------------ the printer


def test_sqrt2_prints_as_float_literal_and_evaluates() -> None:
    f, code = compile_expr(sp.sqrt(2) * x)
    assert "1.4142135623730951" in code
    assert "sqrt(2" not in code
    xs = torch.tensor([0.5, -3.0, 7.25], dtype=torch.float64)
    out = f(xs)
    assert out.dtype == torch.float64
    assert torch.equal(out, xs * math.sqrt(2))


@pytest.mark.parametrize("expr,ref", [
    (sp.pi * x, lambda v: math.pi * v),
    (sp.E * x, lambda v: math.e * v),
    (sp.Rational(1, 3) * x, lambda v: v / 3),
    (-sp.sqrt(3) * x + sp.sqrt(5), lambda v: -math.sqrt(3) * v + math.sqrt(5)),
    (x / sp.sqrt(2), lambda v: v / math.sqrt(2)),
    (sp.exp(sp.sqrt(2) * x), lambda v: math.exp(math.sqrt(2) * v)),
])
def test_numeric_subexpressions_print_as_floats(expr, ref) -> None:
    f, code = compile_expr(expr)
    assert "pi" not in code.replace("torch.", "") and "sqrt(2)" not in code and "sqrt(3)" not in code
    xs = [0.25, -1.5, 3.0]
    out = f(torch.tensor(xs, dtype=torch.float64))
    for got, v in zip(out.tolist(), xs):
        assert abs(got - ref(v)) <= 4e-16 * abs(ref(v))


def test_float_literals_keep_float32_tensors_float32() -> None:
    f, _ = compile_expr(sp.sqrt(2) * x + sp.Rational(1, 3))
    out = f(torch.tensor([1.0, 2.0], dtype=torch.float32))
    assert out.dtype == torch.float32


def test_max_with_zero_is_elementwise_clamp_not_a_reduction() -> None:
    f, code = compile_expr(sp.Max(x, 0))
    xs = torch.tensor([[-1.0, 2.0, -0.5, 3.0], [4.0, -5.0, 0.0, -0.0], [0.25, -7.0, 8.0, 1e-300]], dtype=torch.float64)
    out = f(xs)
    assert out.shape == xs.shape
    expected = torch.tensor([[max(v, 0.0) for v in row] for row in xs.tolist()], dtype=torch.float64)
    assert torch.equal(out, expected)
    # a 1-d input: still elementwise (torch.max(x, 0) would return (values, indices) of a reduction)
    out1 = f(torch.tensor([-2.0, 3.0], dtype=torch.float64))
    assert isinstance(out1, torch.Tensor) and out1.tolist() == [0.0, 3.0]


def test_min_with_zero_is_elementwise_clamp() -> None:
    f, _ = compile_expr(sp.Min(x, 0))
    xs = torch.tensor([[-1.0, 2.0], [4.0, -5.0], [0.25, -7.0]], dtype=torch.float64)
    out = f(xs)
    assert out.shape == xs.shape
    assert out.tolist() == [[min(v, 0.0) for v in row] for row in xs.tolist()]


def test_max_min_of_two_tensors_and_constants() -> None:
    f, _ = compile_expr(sp.Max(x, y, 1), args=(x, y))
    g, _ = compile_expr(sp.Min(x, y, -1), args=(x, y))
    xs = torch.tensor([[-3.0], [0.5], [2.0]], dtype=torch.float64)
    ys = torch.tensor([1.5, -4.0, 0.0, 7.0], dtype=torch.float64)
    fx, gx = f(xs, ys), g(xs, ys)
    assert fx.shape == gx.shape == (3, 4)
    for i, a in enumerate(xs.flatten().tolist()):
        for j, b in enumerate(ys.tolist()):
            assert fx[i, j].item() == max(a, b, 1.0)
            assert gx[i, j].item() == min(a, b, -1.0)


def test_max_clamp_gradient_is_finite_and_elementwise() -> None:
    f, _ = compile_expr(sp.sqrt(2) * sp.Max(x, 0))
    xs = torch.tensor([-1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    f(xs).sum().backward()
    assert xs.grad.tolist() == [0.0, math.sqrt(2), math.sqrt(2)]


def test_erfc_prints_and_evaluates() -> None:
    f, code = compile_expr(sp.erfc(x))
    assert "erfc" in code
    xs = [-3.0, -0.5, 0.0, 0.7, 5.0, 20.0]
    out = f(torch.tensor(xs, dtype=torch.float64))
    for got, v in zip(out.tolist(), xs):
        with mpmath.workdps(40):
            ref = mpmath.erfc(v)
        assert abs(got - float(ref)) <= 1e-14 * float(ref)


def test_exprel_prints_and_evaluates() -> None:
    f, code = compile_expr(F.exprel(x))
    assert "exprel" in code
    xs = [0.0, 1e-300, -1e-12, 1e-9, 3e-5, -3e-5, 1e-4, 0.5, -2.0, 30.0, -745.0, 700.0]
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    out = f(t)
    for got, v in zip(out.tolist(), xs):
        with mpmath.workdps(40):
            ref = mpmath.mpf(1) if v == 0 else mpmath.expm1(v) / v
        assert abs(got - float(ref)) <= 2e-16 * float(ref), v
    out.sum().backward()
    assert bool(torch.isfinite(t.grad).all())
    # d/dz exprel at 0 is 1/2
    assert abs(t.grad[0].item() - 0.5) < 1e-12


def test_log1p_expm1_print_and_evaluate() -> None:
    f, code = compile_expr(F.log1p(x) + F.expm1(x))
    assert "log1p" in code and "expm1" in code
    xs = [1e-17, -1e-10, 0.3, 2.0]
    out = f(torch.tensor(xs, dtype=torch.float64))
    for got, v in zip(out.tolist(), xs):
        ref = math.log1p(v) + math.expm1(v)
        assert abs(got - ref) <= 1e-15 * abs(ref)
    # plain log(1 + x) would lose x = 1e-17 completely
    assert f(torch.tensor([1e-17], dtype=torch.float64)).item() == pytest.approx(2e-17, rel=1e-15)


def test_piecewise_with_true_branch() -> None:
    f, code = compile_expr(sp.Piecewise((x, x > 0), (-x, True)))
    assert "where" in code
    xs = [-2.0, 0.0, 3.5]
    assert f(torch.tensor(xs, dtype=torch.float64)).tolist() == [2.0, 0.0, 3.5]
    g, _ = compile_expr(sp.Piecewise((x, x > 1), (x**2, x < -1), (sp.sqrt(2), True)))
    out = g(torch.tensor([-3.0, 0.0, 0.5, 2.0], dtype=torch.float64))
    assert out.tolist() == [9.0, math.sqrt(2), math.sqrt(2), 2.0]


def test_piecewise_without_true_branch_is_refused() -> None:
    with pytest.raises(ValueError):
        torch_code(sp.Piecewise((x, x > 0)))


def test_printed_code_imports_no_sympy() -> None:
    exprs = [sp.sqrt(2) * x, sp.Max(x, 0), sp.Min(x, 0), sp.erfc(x), F.exprel(x), F.log1p(x), F.expm1(x),
             sp.Piecewise((x, x > 0), (-x, True)), x ** sp.Rational(3, 2), sp.pi * sp.exp(-x) / x]
    for e in exprs:
        code = torch_code(e)
        assert "sympy" not in code and "import" not in code and "mpmath" not in code, code
        # only torch, the runtime helper alias, numbers and the argument are referenced
        names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
        assert names <= {"torch", "_special", "x"}, (e, names)


# ----------------------------------------------------------------------------- generated modules


@pytest.mark.parametrize("name", GENERATED_FILES)
def test_generated_headers_say_do_not_edit_and_record_versions(name: str) -> None:
    text = (GENERATED / name).read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:3])
    assert "do not edit" in head
    assert "learndyn derive" in head
    assert f"sympy {sp.__version__}" in head
    assert f"mpmath {mpmath.__version__}" in head


@pytest.mark.parametrize("path", sorted(GENERATED.glob("*.py")), ids=lambda p: p.name)
def test_generated_python_has_no_sympy_or_mpmath_import(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
        for m in mods:
            assert m.split(".")[0] not in ("sympy", "mpmath"), f"{path.name} imports {m}"
            assert not m.startswith("learndyn.derive"), f"{path.name} imports the engine ({m})"


def test_generated_module_runs_without_sympy() -> None:
    code = (
        "import sys\n"
        "sys.modules['sympy'] = None\n"
        "sys.modules['mpmath'] = None\n"
        "import torch\n"
        "import learndyn.generated.linear as L\n"
        "import learndyn\n"
        "x = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)\n"
        "v = L.scalar_trajectory(t=3.0, x=x, y=2.0, u0=0.1, lr=0.1)\n"
        "v.backward()\n"
        "w = learndyn.function('deep_mode_trajectory')(t=1.0, s=2.0, u0=0.1, tau=1.0, depth=3)\n"
        "m = learndyn.function('mode_learning_time')(s=2.0, u0=0.1, uf=1.0, tau=1.0)\n"
        "assert not any(k.startswith('learndyn.derive') for k in sys.modules), 'engine imported'\n"
        "print(repr(float(v)), repr(float(x.grad)), repr(float(w)), repr(float(m)))\n"
    )
    proc = run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr
    v, g, w, m = (float(s) for s in proc.stdout.split())
    # scalar_trajectory at t=3, x=1.5, y=2, u0=0.1, lr=0.1 from seed 000 eq. (2)
    E = math.exp(2 * 2.0 * 1.5 * 3.0 * 0.1)
    assert v == pytest.approx(2.0 * E / (1.5 * (E - 1) + 2.0 / 0.1), rel=1e-14)
    assert math.isfinite(g)
    assert 0.1 < w < 2.0
    assert m == pytest.approx(1.0 / 4.0 * math.log(1.0 * 1.9 / (0.1 * 1.0)), rel=1e-14)


# ----------------------------------------------------------------------------------- determinism


_RENDER = (
    "import json, sys\n"
    "from learndyn.derive.families import builtin_families\n"
    "from learndyn.derive.pipeline import derive_family, render\n"
    "files = render([(f, derive_family(f, use_cache=False)) for f in builtin_families()])\n"
    "json.dump(files, sys.stdout)\n"
)


def test_render_is_deterministic_across_hash_seeds_and_matches_committed_files() -> None:
    """Two cold derivations (no cache) with different PYTHONHASHSEED render byte-identical files, equal to
    those under generated/."""
    procs = []
    for seed in ("0", "424242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        procs.append(subprocess.Popen([sys.executable, "-c", _RENDER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=REPO, env=env))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    a, b = outs
    assert sorted(a) == sorted(GENERATED_FILES)
    assert a == b
    for name, text in a.items():
        assert (GENERATED / name).read_bytes() == text.encode("utf-8"), f"generated/{name} differs from a fresh render"


# -------------------------------------------------------------------------------------- the CLI


def test_cli_derive_check_passes_on_clean_tree() -> None:
    proc = run([LEARNDYN, "derive", "--check"])
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


@pytest.fixture()
def generated_copy(tmp_path: Path) -> Path:
    out = tmp_path / "gen"
    out.mkdir()
    for name in GENERATED_FILES:
        shutil.copyfile(GENERATED / name, out / name)
    return out


def test_cli_derive_check_passes_on_unmodified_copy(generated_copy: Path) -> None:
    proc = run([LEARNDYN, "derive", "--out", str(generated_copy), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_cli_derive_check_fails_after_hand_edit(generated_copy: Path) -> None:
    path = generated_copy / "linear.py"
    text = path.read_text(encoding="utf-8")
    edited = text.replace("_x0 = lr*x*y", "_x0 = 1.01*lr*x*y", 1)
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    proc = run([LEARNDYN, "derive", "--out", str(generated_copy), "--check"])
    assert proc.returncode != 0
    assert "linear.py" in proc.stderr and "differs" in proc.stderr
    assert "1.01*lr*x*y" in proc.stderr  # the diff is shown
    assert path.read_text(encoding="utf-8") == edited  # --check never writes


def test_cli_derive_check_fails_on_edited_latex_and_missing_file(generated_copy: Path) -> None:
    tex = generated_copy / "linear.tex"
    tex.write_text(tex.read_text(encoding="utf-8") + "% my note\n", encoding="utf-8")
    (generated_copy / "__init__.py").unlink()
    proc = run([LEARNDYN, "derive", "--out", str(generated_copy), "--check"])
    assert proc.returncode != 0
    assert "linear.tex" in proc.stderr
    assert "__init__.py" in proc.stderr and "missing" in proc.stderr


def test_cli_derive_out_writes_fresh_dir(tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    proc = run([LEARNDYN, "derive", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(GENERATED_FILES)
    for name in GENERATED_FILES:
        assert (out / name).read_bytes() == (GENERATED / name).read_bytes()
    # running again rewrites nothing and still checks clean
    proc = run([LEARNDYN, "derive", "--out", str(out), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_cli_derive_refuses_to_overwrite_foreign_file_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    foreign = out / "linear.py"
    foreign.write_text("# my own module, not generated\nVALUE = 42\n", encoding="utf-8")
    proc = run([LEARNDYN, "derive", "--out", str(out)])
    assert proc.returncode != 0
    assert "--force" in proc.stderr and "linear.py" in proc.stderr
    assert foreign.read_text(encoding="utf-8") == "# my own module, not generated\nVALUE = 42\n"
    proc = run([LEARNDYN, "derive", "--out", str(out), "--force"])
    assert proc.returncode == 0, proc.stderr
    assert foreign.read_bytes() == (GENERATED / "linear.py").read_bytes()


def test_cli_derive_overwrites_a_stale_generated_file_without_force(generated_copy: Path) -> None:
    """A file that carries the generated mark is derive's own: a stale one is simply regenerated."""
    path = generated_copy / "linear.py"
    path.write_text(path.read_text(encoding="utf-8").replace("_x0 = lr*x*y", "_x0 = 2*lr*x*y", 1), encoding="utf-8")
    proc = run([LEARNDYN, "derive", "--out", str(generated_copy)])
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == (GENERATED / "linear.py").read_bytes()
