"""Write a dataset under a temporary name and rename it when complete.

A crash, a full disk or Ctrl-C never leaves a half-written file under the
final name; a previous result there stays untouched until the new one is whole.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import xarray as xr


def write(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to ``path`` (``.zarr`` store or ``.nc`` netCDF-4 file), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    _remove(partial)
    try:
        if path.suffix == ".zarr":
            # Zarr format 2: its string and consolidated-metadata encodings are
            # settled, so any zarr reader opens the store.
            dataset.to_zarr(partial, mode="w", consolidated=True, zarr_format=2)
        else:
            dataset.to_netcdf(partial, engine="h5netcdf")
        _replace(partial, path)
    except BaseException:
        _remove(partial)
        raise
    return path


def _replace(new: Path, path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # A directory cannot be replaced in one rename: move the old one aside first.
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
