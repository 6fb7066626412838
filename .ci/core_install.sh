#!/usr/bin/env bash
# A user's `pip install .` with no extras: every module that needs no extra imports, the
# command line answers --help, and verbs that need an extra say which, in one line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-core
rm -rf "$venv"
${PYTHON:-python3} -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet .
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # not the checkout: the installed package, not src/
py="$OLDPWD/$venv/bin/python"
lrkit="$OLDPWD/$venv/bin/lrkit"
"$py" - <<'PY'
import importlib, pkgutil
import lrkit
# Modules that need an extra: the PyTorch parts of lrkit.nn and lrkit.imaging.
torch_free = {"lrkit.nn", "lrkit.nn.compression", "lrkit.nn.compression.methods",
              "lrkit.nn.compression.allocation", "lrkit.nn.workloads"}
torch_imaging = {"lrkit.imaging.unrolled_rpca", "lrkit.imaging.learned_sampling"}
compiled = {"lrkit._kernels.row_cg"}  # Numba: lrkit[fast]
names = [m.name for m in pkgutil.walk_packages(lrkit.__path__, "lrkit.")]
needs_extra = {name for name in names if name in torch_imaging or name in compiled
               or (name.startswith("lrkit.nn") and name not in torch_free)}
for name in names:
    if name not in needs_extra and not name.endswith("__main__"):
        importlib.import_module(name)
import lrkit.nn as lnn
assert lnn.METHODS and lnn.ALLOCATIONS
try:
    lnn.compress
except ImportError as error:
    assert "lrkit[nn]" in str(error), error
else:
    raise SystemExit("lrkit.nn.compress imported without PyTorch")
import importlib.util
from lrkit.exceptions import MissingExtraError
if importlib.util.find_spec("PIL") is None:  # the JPEG reader comes with lrkit[data]
    try:
        lrkit.problems.datasets.sample_image()
    except MissingExtraError as error:
        assert "lrkit[data]" in str(error), error
    else:
        raise SystemExit("sample_image ran without pillow")
# Without Numba the compiled kernels' callers run their NumPy path.
from lrkit._kernels import row_kernels
assert row_kernels() is None
from lrkit.ratings import ImplicitALS
model = ImplicitALS(rank=2, n_iter=3, seed=0).fit(([0, 0, 1, 2], [0, 1, 1, 2]))
assert model.user_factors_.shape == (3, 2)
print(f"core install: {len(names) - len(needs_extra)} modules import without extras")
PY
"$lrkit" --help > /dev/null
"$lrkit" recover --n1 12 --n2 10 --m 200 --seed 0 > /dev/null
check_one_line() {  # expected text, then the command; it must exit 1 with one line
  local expected=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local code=$?; set -e
  if [ "$code" != 1 ] || [ "$(wc -l < err.txt)" != 1 ] || ! grep -q "$expected" err.txt; then
    echo "core install: '$*' gave exit $code:"; cat out.txt err.txt; exit 1
  fi
}
check_one_line "lrkit\[plot\]" "$lrkit" demo --plot demo.png
check_one_line "lrkit\[nn\]" "$lrkit" compress minilm
echo "core install: lrkit --help, recover, and one-line messages for missing extras"
