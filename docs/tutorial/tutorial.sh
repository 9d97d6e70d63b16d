#!/usr/bin/env bash
# The tutorial's commands (docs/tutorial.rst shows them from this file; tests/test_docs.py runs them).
# Run from the repository root:  bash docs/tutorial/tutorial.sh
#   MODULE    your family module               (default: the example, examples/my_results.py)
#   OUT       the folder derive writes into    (default: my_generated)
#   EXAMPLES  draws per check, tiers a and b   (default: 100, verify's default; the test uses a few)
set -euo pipefail
MODULE=${MODULE:-examples/my_results.py}
OUT=${OUT:-my_generated}
EXAMPLES=${EXAMPLES:-100}

# [derive]
learndyn derive --module "$MODULE" --out "$OUT"        # derive, prove, write $OUT/regression.py and .tex
# [/derive]

# [use]
python - "$OUT" <<'EOF'
import sys, torch
sys.path.insert(0, sys.argv[1])
import regression                                      # the generated module: plain torch, no SymPy
t = torch.tensor([0.0, 10.0, 1e6], dtype=torch.float64)
print(regression.linear_regression_trajectory(t=t, s=1.0, u0=0.1, tau=1.0))
EOF
# [/use]

# [verify]
learndyn verify --module "$MODULE" --out "$OUT" --examples "$EXAMPLES"           # tier a (vs mpmath), tier b (vs GD)
learndyn verify --module "$MODULE" --out "$OUT" --examples "$EXAMPLES" --power   # the smallest error tier b catches
# [/verify]

# [validity]
learndyn validity linear_regression_trajectory --module "$MODULE" --out "$OUT" -o "$OUT/maps" --force
# [/validity]

# [pdf]
learndyn verify --module "$MODULE" --out "$OUT" --examples "$EXAMPLES" --json > "$OUT/verification.json"
learndyn latex --module "$MODULE" --out "$OUT" --verification "$OUT/verification.json" \
    -o "$OUT/regression-paper.tex" --pdf --force     # the PDF: derivation, proof record, verification table
# [/pdf]
