"""Arguments of the wrong kind (a string, None, a bool, a complex number, a list of strings …) raise
learndyn.DomainError naming the result, the parameter, its value and its domain: with and without check=False,
and through the fused (compiled) path for large inputs (issue 16, item 5)."""
from __future__ import annotations

import fractions

import numpy as np
import pytest
import torch

import learndyn
from learndyn.domain import DomainError
from learndyn.fused import MIN_ELEMENTS

F64 = torch.float64
SCALAR = dict(t=3.0, x=1.5, y=2.0, u0=0.1, lr=0.1)
KERNEL = dict(x1=torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=F64), x2=None, hidden_layers=2, sigma_w2=1.5,
              sigma_b2=0.1, activation="erf")
BAD_REALS = {"str": "1", "None": None, "bool": True, "complex": 1 + 2j, "list of str": ["a", "b"],
             "list of complex": [1j], "complex tensor": torch.tensor([1 + 1j]), "bool tensor": torch.tensor([True]),
             "numpy str": np.array(["1"]), "numpy bool": np.bool_(True), "bytes": b"1", "dict": {"x": 1.0}}


def _message_names(exc: DomainError, result: str, param: str, domain: str) -> None:
    msg = str(exc)
    assert msg.startswith(f"{result}: parameter '{param}' = "), msg
    assert domain in msg, msg


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("kind", list(BAD_REALS))
def test_real_parameter_of_the_wrong_kind(kind: str, check: bool) -> None:
    f = learndyn.function("scalar_trajectory", check=check)
    with pytest.raises(DomainError) as info:
        f(**{**SCALAR, "x": BAD_REALS[kind]})
    _message_names(info.value, "scalar_trajectory", "x", "x ∈ (0.0, inf)")
    if kind in ("str", "None", "bool"):
        assert repr(BAD_REALS[kind]) in str(info.value)


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("kind", ["str", "None", "list of str", "complex"])
def test_fused_path_names_the_parameter(kind: str, check: bool) -> None:
    """Large inputs go to the compiled path; a wrong kind is refused there before anything compiles."""
    f = learndyn.function("scalar_trajectory")
    t = torch.linspace(0.0, 10.0, MIN_ELEMENTS, dtype=F64)
    with pytest.raises(DomainError) as info:
        f(**{**SCALAR, "t": t, "y": BAD_REALS[kind]}, check=check)
    _message_names(info.value, "scalar_trajectory", "y", "y ∈ (-inf, inf)")
    assert not f.compiled


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("name,param,value,domain", [
    ("deep_mode_time", "depth", "3", "integer >= 1"),
    ("deep_mode_time", "depth", None, "integer >= 1"),
    ("deep_mode_time", "depth", True, "integer >= 1"),
    ("ntk_kernel", "x1", "a", "2-d tensor"),
    ("ntk_kernel", "x1", [["a", "b"]], "2-d tensor"),
    ("ntk_kernel", "x1", None, "2-d tensor"),
    ("ntk_kernel", "x2", torch.ones(2, 2, dtype=torch.complex128), "2-d tensor (n2, d) or None"),
    ("ntk_kernel", "sigma_w2", "1.5", "sigma_w2 ∈ (0.0, inf)"),
    ("ntk_kernel", "sigma_b2", None, "sigma_b2 ∈ [0.0, inf)"),
    ("ntk_kernel", "hidden_layers", 2.0, "integer >= 0"),
    ("ntk_kernel", "activation", "tanh", "one of 'relu', 'erf'"),
    ("chi1", "activation", None, "one of 'relu', 'erf'"),
    ("chi1", "sigma_w2", [1j], "sigma_w2 ∈ (0.0, inf)"),
])
def test_other_parameters_of_the_wrong_kind(name, param, value, domain, check) -> None:
    calls = {"deep_mode_time": dict(s=2.0, u0=0.1, uf=1.5, tau=4.0, depth=3), "ntk_kernel": KERNEL,
             "chi1": dict(sigma_w2=1.5, sigma_b2=0.1, activation="erf")}
    with pytest.raises(DomainError) as info:
        learndyn.function(name)(**{**calls[name], param: value}, check=check)
    _message_names(info.value, name, param, domain)


def test_real_numbers_of_other_types_still_work() -> None:
    f = learndyn.function("scalar_trajectory")
    ref = f(**SCALAR)
    for x in (fractions.Fraction(3, 2), np.float32(1.5), np.int64(1) * 1.5, np.array(1.5)):
        assert torch.equal(f(**{**SCALAR, "x": x}), ref), x
    assert torch.equal(f(**{**SCALAR, "x": [1.5, 1.5]}), ref.expand(2))
    assert torch.equal(f(**{**SCALAR, "x": torch.tensor(2)}), f(**{**SCALAR, "x": 2.0}))  # integer tensor: float64
    kernel = learndyn.function("ntk_kernel")
    assert torch.equal(kernel(**{**KERNEL, "x1": KERNEL["x1"].tolist()}), kernel(**KERNEL))
