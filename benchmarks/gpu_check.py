"""The CUDA backend on a machine with a GPU, in under five minutes: one prepared run.

    python benchmarks/gpu_check.py --out "$OUT"

Runs, each in a subprocess with its own time limit (the defaults sum to 295 s):

1. the CUDA tests without the simulator (``python -m pytest tests/test_cuda.py
   tests/test_backend.py -p no:cacheprovider``, ``NUMBA_ENABLE_CUDASIM`` unset);
2. ``python -m sweep bench`` at its default size (Adam on 2-D Rosenbrock, 16 384 cells ×
   2 000 steps, float64), whose backends table then has the CUDA rows (end to end, and
   the kernel alone timed with CUDA events) beside the CPU's, numpy's and JAX's;
3. every update rule on Rosenbrock with noise, a warm-up, a cosine schedule, a
   divergent α and recorded trajectories, on the CPU and on the GPU: every metric must
   agree to 1e-12 relative (the backend's contract; the tests check it only through the
   simulator, which runs the CPU's libm); and a model grid (MLP on digits, 150 steps)
   to 1e-9 (not measured on a GPU yet).

Writes ``gpu_check.json`` to ``--out``, again after every part (``"complete": false``
until the end, so a run cut short still leaves what it measured): the device (name,
compute capability, memory, driver and runtime versions), the tests' counts with every
test that did not pass and why, the bench rows and the engine's ratios, the agreement,
and ``problems``, one sentence each. Exit status 0 when everything ran and passed,
1 when something failed or ran out of time, 3 when no GPU is usable (said in one
sentence; the JSON says it too).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEST_FILES = ("tests/test_cuda.py", "tests/test_backend.py")
NO_GPU_STATUS = 3
TAIL_CHARS = 3000
AGREEMENT_RTOL = 1e-12
MODEL_AGREEMENT_RTOL = 1e-9


def probe_device() -> dict:
    """``{"usable": False, "reason": sentence}``, or the current CUDA device's name,
    compute capability, memory (bytes) and the driver's and runtime's CUDA versions."""
    from sweep.kernels.cuda import device_status

    usable, why = device_status()
    if not usable:
        return {"usable": False, "reason": why}
    from numba import cuda
    from numba.cuda.cudadrv.driver import driver

    device = cuda.get_current_device()
    name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    free, total = cuda.current_context().get_memory_info()
    return {"usable": True, "status": why, "name": name,
            "compute_capability": list(device.compute_capability),
            "memory_bytes": int(total), "free_bytes": int(free),
            "driver_cuda_version": list(driver.get_version()),
            "runtime_cuda_version": list(cuda.runtime.get_version())}


def run_command(command: list[str], timeout_s: float, log: Path) -> dict:
    """Run ``command`` in the checkout (this checkout first on ``PYTHONPATH``, without the
    CUDA simulator), its output to ``log``; killed with its process group after
    ``timeout_s``. Returns the command, return code (None when killed), whether it timed
    out, its seconds and the tail of its output."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    started = time.perf_counter()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode, timed_out = process.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # pytest's or bench's children too
            process.wait()
            returncode, timed_out = None, True
    text = log.read_text(encoding="utf-8", errors="replace")
    return {"command": command, "returncode": returncode, "timed_out": timed_out,
            "seconds": round(time.perf_counter() - started, 2), "timeout_s": timeout_s,
            "output_tail": text[-TAIL_CHARS:]}


def test_counts(junit_xml: Path) -> dict:
    """Counts of a pytest ``--junitxml`` report (passed, failed, errors, skipped, total)
    and, for every test that did not pass, its id, outcome and message."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    not_passed = []
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        outcome = "passed"
        for tag, name in (("failure", "failed"), ("error", "errors"), ("skipped", "skipped")):
            found = case.find(tag)
            if found is not None:
                outcome = name
                message = found.get("message") or ""
                if message in ("", "collection skipped"):  # a skipped module: why is the text
                    message = (found.text or message).strip()
                not_passed.append({"test": f"{case.get('classname')}::{case.get('name')}",
                                   "outcome": name, "message": message[:400]})
                break
        counts[outcome] += 1
    counts["total"] = sum(counts.values())
    return {"counts": counts, "not_passed": not_passed}


def tests_part(out: Path, timeout_s: float) -> dict:
    report = out / "gpu_tests.xml"
    command = [sys.executable, "-m", "pytest", *TEST_FILES, "-p", "no:cacheprovider", "-n0",
               "-q", f"--junitxml={report}"]
    part = run_command(command, timeout_s, out / "gpu_tests.log")
    if report.is_file():
        part |= test_counts(report)
    return part


def bench_part(out: Path, timeout_s: float, cells: int, steps: int, repeats: int) -> dict:
    folder = out / "bench"
    command = [sys.executable, "-m", "sweep", "bench", "--cells", str(cells), "--steps",
               str(steps), "--repeats", str(repeats), "--max-cells", "1000",
               "--optimizers", "adam", "--objectives", "rosenbrock", "--model-cells", "0",
               "--rules", "none", "--out", str(folder)]
    part = run_command(command, timeout_s, out / "bench.log")
    if part["returncode"] == 0 and (folder / "bench.json").is_file():
        results = json.loads((folder / "bench.json").read_text())
        part["results"] = {key: results[key] for key in
                           ("machine", "cells", "steps", "repeats", "backends", "ratios", "jax",
                            "cuda", "threads_scaling") if key in results}
    return part


def agreement_part(out: Path, timeout_s: float) -> dict:
    result = out / "agreement.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--agreement-only", str(result)]
    part = run_command(command, timeout_s, out / "agreement.log")
    if part["returncode"] == 0 and result.is_file():
        part |= json.loads(result.read_text())
    return part


def agreement_table() -> dict:
    """The grid of the agreement check: every rule on Rosenbrock from two starts, with
    gradient noise, a warm-up and a cosine schedule, a divergent α (20), trajectories."""
    from sweep.kernels.rules import OPTIMIZERS

    return {"sweep": {"optimizers": list(OPTIMIZERS), "steps": 200, "record_every": 20,
                      "schedule": "cosine"},
            "schedule": {"warmup": 10},
            "objective": {"name": "rosenbrock", "start": [[-1.2, 1.0], [1.5, 2.0]],
                          "noise": 0.1, "seeds": [3]},
            "grid": {"alpha": [1e-3, 1e-2, 20.0], "beta1": [0.0, 0.9], "beta2": [0.999],
                     "eps": [1e-8]},
            # β₁ = 0 (no momentum) is outside Schedule-Free's range: fixed there.
            "options": {name: {"beta1": 0.9} for name, rule in OPTIMIZERS.items()
                        if "beta1" in rule.names
                        and not rule.hyperparameter("beta1").valid(0.0)}}


def model_agreement_table() -> dict:
    """A model grid for the agreement check: the bench's MLP 64-32-10 (tanh) on digits,
    minibatch 32, Adam and momentum, noise, a cosine schedule, a divergent α, curves."""
    return {"sweep": {"optimizers": ["adam", "momentum"], "steps": 150, "record_every": 50,
                      "schedule": "cosine"},
            "objective": {"model": "mlp", "hidden": [32], "data": "digits", "batch_size": 32,
                          "seeds": [0, 1], "noise": 0.01, "eval_every": 25},
            "grid": {"alpha": [1e-3, 1e-2, 30.0], "beta1": [0.0, 0.9], "beta2": [0.999],
                     "eps": [1e-8]}}


def compare(expected, got, rtol: float = AGREEMENT_RTOL) -> tuple[dict, bool]:
    """Every data variable of two sweep datasets: ``{name: largest relative difference}``
    (for a boolean one, the count of cells that differ) and whether all are within ``rtol``
    (NaN where NaN, infinities equal)."""
    import numpy as np

    differences, agree = {}, True
    for name, variable in expected.data_vars.items():
        want, have = variable.values, got[name].values
        if want.dtype == bool:
            differences[name] = int(np.count_nonzero(want != have))
            agree &= differences[name] == 0
            continue
        want, have = want.astype(float), have.astype(float)
        same = (want == have) | (np.isnan(want) & np.isnan(have))
        with np.errstate(all="ignore"):
            relative = np.where(same, 0.0, np.abs(have - want) / np.abs(want))
        relative = np.where(np.isnan(relative), np.inf, relative)  # NaN against a number
        differences[name] = float(relative.max()) if relative.size else 0.0
        agree &= bool(np.all(relative <= rtol))
    return differences, bool(agree)


def agreement(path: Path) -> None:
    """:func:`agreement_table` on the CPU and on the GPU, :func:`compare`-d; writes
    ``{"rtol", "cells", "metrics", "agree"}`` to ``path``."""
    import sweep

    table = agreement_table()
    gpu = sweep.run(table, backend="cuda")  # first: without a GPU this fails at once
    cpu = sweep.run(table, backend="cpu", n_jobs=1)
    differences, agree = compare(cpu, gpu)
    # Models (sweep.kernels.cuda_training): 150 training steps amplify FMA-level differences.
    models = model_agreement_table()
    model_gpu = sweep.run(models, backend="cuda")
    model_cpu = sweep.run(models, backend="cpu", n_jobs=1)
    model_differences, model_agree = compare(model_cpu, model_gpu, MODEL_AGREEMENT_RTOL)
    path.write_text(json.dumps({"rtol": AGREEMENT_RTOL, "cells": int(cpu.attrs["computed_cells"]),
                                "metrics": differences, "agree": agree and model_agree,
                                "models": {"rtol": MODEL_AGREEMENT_RTOL,
                                           "cells": int(model_cpu.attrs["computed_cells"]),
                                           "metrics": model_differences,
                                           "agree": model_agree}}, indent=1))


def problems(report: dict) -> list[str]:
    """One sentence for each thing in ``report`` that did not run or did not pass."""
    found = []
    for part in ("tests", "bench", "agreement"):
        run = report.get(part)
        if run is None:
            continue
        if run["timed_out"]:
            found.append(f"{part}: killed after {run['timeout_s']:g} s.")
        elif run["returncode"] != 0:
            found.append(f"{part}: exit status {run['returncode']} (see {part} output_tail).")
    counts = report.get("tests", {}).get("counts")
    if counts and counts["failed"] + counts["errors"]:
        found.append(f"tests: {counts['failed']} failed and {counts['errors']} errors "
                     f"of {counts['total']}.")
    if counts is not None and counts["passed"] == 0:
        found.append("tests: none passed (every one was skipped).")
    cuda = report.get("bench", {}).get("results", {}).get("cuda")
    if cuda is not None and not cuda.startswith("CUDA:"):
        found.append(f"bench: {cuda}")
    if report.get("agreement", {}).get("agree") is False:
        found.append(f"agreement: CPU and GPU differ by more than {AGREEMENT_RTOL:g} relative "
                     f"(models: {MODEL_AGREEMENT_RTOL:g}).")
    return found


def write(report: dict, out: Path) -> Path:
    """``report`` as ``out/gpu_check.json``, through a temporary name (never half-written)."""
    target = out / "gpu_check.json"
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(report, indent=1))
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    command = argparse.ArgumentParser(prog="python benchmarks/gpu_check.py",
                                      description=__doc__.split("\n")[0])
    command.add_argument("--out", default=os.environ.get("OUT"),
                         help="folder for gpu_check.json and the logs (default: $OUT)")
    command.add_argument("--cells", type=int, default=16384, help="bench: cells")
    command.add_argument("--steps", type=int, default=2000, help="bench: steps per trajectory")
    command.add_argument("--repeats", type=int, default=3, help="bench: runs per figure")
    command.add_argument("--tests-timeout", type=float, default=75.0, help="seconds")
    command.add_argument("--bench-timeout", type=float, default=120.0, help="seconds")
    command.add_argument("--agreement-timeout", type=float, default=100.0, help="seconds")
    command.add_argument("--agreement-only", type=Path, help=argparse.SUPPRESS)
    args = command.parse_args(argv)
    if args.agreement_only is not None:
        agreement(args.agreement_only)
        return 0
    if not args.out:
        print("error: give --out DIR (or set $OUT)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "python": platform.python_version(), "complete": False,
              "device": probe_device()}
    if not report["device"]["usable"]:
        report |= {"complete": True, "problems": [report["device"]["reason"]]}
        write(report, out)
        print(f"gpu_check: no usable GPU here, nothing was run: {report['device']['reason']}",
              file=sys.stderr)
        return NO_GPU_STATUS
    print(f"gpu_check: {report['device']['name']}", flush=True)
    for name, run in (("tests", lambda: tests_part(out, args.tests_timeout)),
                      ("bench", lambda: bench_part(out, args.bench_timeout, args.cells,
                                                   args.steps, args.repeats)),
                      ("agreement", lambda: agreement_part(out, args.agreement_timeout))):
        report[name] = run()
        report["seconds"] = round(time.perf_counter() - started, 1)
        write(report, out)
        print(f"gpu_check: {name} done in {report[name]['seconds']} s", flush=True)
    report["problems"] = problems(report)
    report["complete"] = True
    target = write(report, out)
    for sentence in report["problems"]:
        print(f"gpu_check: {sentence}", file=sys.stderr)
    print(f"gpu_check: wrote {target}")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
