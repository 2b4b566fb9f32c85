#!/usr/bin/env bash
# The wheel installs and runs beside the package index's unrelated `kernels`: build it from
# the repository's files, check what it holds, install it with its dependencies and the plot
# extra in a fresh venv beside `kernels`, then run what a user runs first. Fails on any step.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The venv is ~1 GB in ~26 000 files: deleting it from disk took longer than the whole
# check (90 s); in memory (tmpfs) it is instant.
base=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt 4000000 ]; then
    base=/dev/shm
fi
work=$(mktemp -d -p "$base")
trap 'rm -rf "$work"' EXIT
elapsed() { echo "wheel check: $1 at ${SECONDS} s"; }

# The files a clone holds (tracked, and new files not ignored), not a stale build/ folder.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' name; do if [ -f "$name" ]; then printf '%s\0' "$name"; fi; done \
    | tar --null -T - -cf - | tar -xf - -C "$work/src"

python3 -m venv "$work/venv"
python="$work/venv/bin/python"
"$python" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/optimizer_sweep-*.whl)
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
elapsed "built"

# Every file of the source's sweep/ package (modules and the data read at run time: the
# default grid, the explorer's script) is in the wheel, and no top-level package but sweep.
"$python" - "$wheel" "$work/src" <<'EOF'
import sys
import zipfile
from pathlib import Path

wheel, source = sys.argv[1], Path(sys.argv[2])
names = set(zipfile.ZipFile(wheel).namelist())
expected = {p.relative_to(source).as_posix() for p in (source / "sweep").rglob("*") if p.is_file()}
missing = sorted(expected - names)
tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
assert not missing, f"not in the wheel: {missing}"
assert tops == {"sweep"}, f"top-level names in the wheel: {sorted(tops)}"
print(f"wheel holds {len(expected)} files of sweep/, and no top-level package but sweep")
EOF

# The package index's own `kernels` beside it: the two must not share a folder.
# --no-compile: no .pyc for the thousands of modules installed; those imported compile on use.
"$python" -m pip install --quiet --no-compile "$wheel[plot]" kernels
bin="$work/venv/bin"
elapsed "installed"

# In a folder of its own, as a user would (not the checkout, which Python would import
# from the current directory): both packages import, from the venv.
mkdir "$work/run"
cd "$work/run"
export NUMBA_CACHE_DIR="$work/numba-cache"
"$python" -c "import sys, kernels, sweep.kernels
assert sweep.kernels.__file__.startswith(sys.prefix), sweep.kernels.__file__
assert 'sweep' not in kernels.__file__ and hasattr(sweep.kernels, 'normal')
print('import kernels, sweep.kernels:', kernels.__file__, sweep.kernels.__file__)"
version=$("$python" -c "import sweep; print(sweep.__version__)")
[ "$("$bin/sweep" --version)" = "optimizer-sweep $version" ]
"$python" -m sweep --version

# The default grid shipped in the wheel, then the explorer on its result (fewer computed
# paths than its default: a check, not a page to read).
grid=$("$python" -c "from importlib.resources import files
print(files('sweep') / 'grids' / 'default.toml')")
"$bin/sweep" "$grid" -o default.zarr --quiet
elapsed "default grid run"
"$bin/sweep" explore default.zarr -o default.html --cells-with-paths 200
[ -s default.html ]

# An objective file with the old top-level import, beside another project's `kernels`:
# a configuration error (exit 2) that says what to write.
cat > old.py <<'EOF'
from kernels import normal, uniform


def f(x, grad, t, key):
    grad[0] = normal(key, 0)
    return x[0]
EOF
cat > old.toml <<'EOF'
[sweep]
optimizers = ["sgd"]
steps = 5

[objective]
file = "old.py"
function = "f"
start = [[1.0]]

[grid]
alpha = [0.1]
EOF
status=0
"$bin/sweep" old.toml 2> old.err || status=$?
cat old.err
[ "$status" = 2 ]
grep -q "write 'from sweep.kernels import normal, uniform'" old.err
cd "$root"
elapsed "passed"
