"""The ``learndyn verify`` table: a status column with a header, narrow enough for a terminal, measures listed once."""
from __future__ import annotations

from learndyn.verify.report import Check, format_table


def _checks() -> list[Check]:
    long_measure = "max |2u(lr/2) - u(lr) - theory| / norm / (0.001 + 5 SE)"
    return [
        Check("deep_mode_trajectory", "b: GD, D-layer linear net, Richardson", 168, 0.178, 1.0, long_measure, True),
        Check("inverted_dropout_trajectory", "b: GD with inverted dropout, 4000 runs, mean", 96, 0.4, 1.0, long_measure, True),
        Check("correlation_map", "a: mpmath 50 digits", 120, 2.0, 1.0, "|err| / (1e-12|ref| + 2.3e-308)", False, "too far"),
    ]


def test_table_has_a_status_header_and_fits_a_terminal() -> None:
    text = format_table(_checks())
    header = text.splitlines()[0]
    assert header.split()[0] == "status"
    table = text.split("\n\n")[0].splitlines()
    assert max(len(line) for line in table) <= 120, max(len(line) for line in table)
    assert table[2].startswith("ok") and table[4].startswith("FAIL")


def test_each_measure_is_listed_once_and_failures_follow() -> None:
    text = format_table(_checks())
    assert text.count("max |2u(lr/2) - u(lr) - theory|") == 1
    assert "[1] max |2u(lr/2)" in text and "[2] |err|" in text
    assert text.rstrip().endswith("FAIL correlation_map [a: mpmath 50 digits]: too far")
