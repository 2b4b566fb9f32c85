"""Size and load time of the explorer page of a 10⁵-cell result with 10⁴ paths.

    python docs/trials/explore_size.py [RUNS]

Runs the sweep of ``GRID`` below (adam and rmsprop on Rosenbrock, 100 000 cells,
few steps, no trajectories recorded), then ``python -m sweep explore`` with
``--cells-with-paths 10000`` (the paths are computed for the page through the
engine), and prints the page's size, the time to build it, and the time
headless Chromium takes to open it from disk until Bokeh has rendered it
(``Bokeh.documents[0].is_idle`` and the page's controller has run), and
until a click on a heatmap square shows its path. Needs chromium and
chromium-driver (Debian) and selenium. Not part of the test suite
(tests/test_explore.py checks the 25 MB bound); this is the measurement quoted
in the README.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = """
[sweep]
optimizers = ["adam", "rmsprop"]
steps = 500
[objective]
name = "rosenbrock"
start = [[-1.2, 1.0], [-2.0, 2.0]]
[grid]
alpha = {min = 1e-4, max = 1e-1, num = 25, scale = "log"}
beta1 = {min = 0.0, max = 0.95, num = 20}
beta2 = {min = 0.9, max = 0.999, num = 10}
eps = {min = 1e-8, max = 1e-4, num = 5, scale = "log"}
"""
PATHS = 10_000
ROOT = Path(__file__).resolve().parents[2]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1400"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def load_times(driver, page: Path) -> tuple[float, float]:
    """(seconds from navigation until Bokeh has rendered and the controller has run,
    seconds from a click on a heatmap square until its path is in the path source)."""
    driver.get("about:blank")
    started = time.perf_counter()
    driver.get(page.as_uri())
    while not driver.execute_script(
            "return !!(window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].is_idle"
            " && window.__sweepExplore && location.hash)"):
        time.sleep(0.02)
    loaded = time.perf_counter() - started
    clicked = driver.execute_script("""
        const doc = Bokeh.documents[0], t0 = performance.now();
        doc.get_model_by_name('heat:adam').selected.indices = [40];
        return t0;""")
    while not driver.execute_script(
            "return Bokeh.documents[0].get_model_by_name('path').data.xs.length == 1"):
        time.sleep(0.005)
    shown = driver.execute_script("return performance.now()") - clicked
    return loaded, shown / 1000


def main(runs: int = 3) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as folder:
        grid = Path(folder) / "big.toml"
        grid.write_text(GRID)
        result = Path(folder) / "big.zarr"
        subprocess.run([sys.executable, "-m", "sweep", str(grid), "-o", str(result), "--quiet"],
                       check=True, env=env)
        page = Path(folder) / "big.html"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sweep", "explore", str(result), "-o", str(page),
                        "--cells-with-paths", str(PATHS)], check=True, env=env)
        built = time.perf_counter() - started
        size = page.stat().st_size
        driver = browser()
        try:
            times = [load_times(driver, page) for _ in range(runs)]
        finally:
            driver.quit()
    loads = [t[0] for t in times]
    clicks = [t[1] for t in times]
    print(f"page: {size / 1e6:.1f} MB for 100,000 cells and {PATHS:,} paths "
          f"(bound: 25 MB); built in {built:.1f} s (python -m sweep explore, paths computed)")
    print(f"load until rendered: median {statistics.median(loads):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in loads)}); "
          f"click to path: median {1000 * statistics.median(clicks):.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
