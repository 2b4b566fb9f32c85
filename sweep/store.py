"""Where results go: a netCDF file written whole, or a ``.zarr`` store filled chunk by chunk.

netCDF (``.nc``) and in-memory results: :func:`write` writes under a
temporary name and renames when complete, so a crash, a full disk or Ctrl-C
never leaves a half-written file under the final name.

zarr (``.zarr``): :class:`ChunkStore`. The store's whole layout (every
variable, coordinate and attribute, no data) is created up front from the
plan, under a temporary name, then renamed into place. Each block is then
written into its region as soon as it is computed (regions are whole zarr
chunks: the plan's blocks are cut along the store's chunks), and only then
marked done by setting its flag in a small boolean array (one zarr chunk per
block; zarr ≥ 3.1.3 writes a chunk to a temporary file and renames it). A
chunk that was never written reads back as the fill value, so completeness is
never inferred from the data: only the flags count, and an unset flag is
exactly "not known to be done". ``resume`` recomputes
exactly the blocks without a marker. Only the main process writes.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:  # xarray takes half a second to import: not before validation
    import xarray as xr

# Inside a store: a group holding one flag per block (its own zarr chunk, so
# setting it is one atomic file write), and, in the attrs, the plan's fingerprint.
PROGRESS = "_sweep"
FLAGS = "done"
FINGERPRINT_ATTR = "sweep_fingerprint"


def write(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to ``path``, a netCDF-4 file, atomically (a ``.zarr`` output
    is a :class:`ChunkStore`, filled as the sweep goes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(path)
    try:
        dataset.to_netcdf(partial, engine="h5netcdf")
        _replace(partial, path)
    except BaseException:
        _remove(partial)
        raise
    return path


class ChunkStore:
    """A ``.zarr`` store being filled block by block (see the module's docstring)."""

    def __init__(self, path: Path):
        import zarr

        self.path = path
        self.group = zarr.open_group(path, mode="r+", zarr_format=2)
        self.flags = self.group[f"{PROGRESS}/{FLAGS}"]
        self._arrays = {}

    @classmethod
    def create(cls, path: str | Path, layout: xr.Dataset, fingerprint: dict,
               blocks: int) -> ChunkStore:
        """Create the store at ``path`` from ``layout`` (lazy data: only metadata and
        coordinates are written) with ``blocks`` flags, replacing whatever is
        there, atomically."""
        import zarr

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = _partial(path)
        try:
            layout = layout.assign_attrs({FINGERPRINT_ATTR: json.dumps(fingerprint),
                                          "status": "incomplete"})
            # Zarr format 2: its string and consolidated-metadata encodings are
            # settled, so any zarr reader opens the store.
            layout.to_zarr(partial, mode="w", compute=False, consolidated=False, zarr_format=2)
            progress = zarr.open_group(partial, mode="r+", zarr_format=2).create_group(PROGRESS)
            progress.create_array(FLAGS, shape=(blocks,), chunks=(1,), dtype=bool,
                                  fill_value=False)
            zarr.consolidate_metadata(partial)
            _replace(partial, path)
        except BaseException:
            _remove(partial)
            raise
        return cls(path)

    @staticmethod
    def stored_fingerprint(path: str | Path) -> dict:
        """The fingerprint a store was created with (its ``chunks`` are what a resumed
        plan must use); a folder that is not such a store is a :class:`ConfigError`."""
        import zarr

        try:
            return json.loads(zarr.open_group(path, mode="r", zarr_format=2)
                              .attrs[FINGERPRINT_ATTR])
        except (OSError, KeyError, ValueError) as error:
            raise ConfigError(f"{path}: not a store this program can resume "
                              f"({type(error).__name__}: {error})") from None

    @classmethod
    def resume(cls, path: str | Path, stored: dict, fingerprint: dict,
               source: str) -> ChunkStore:
        """Open a store to resume it, given its :meth:`stored_fingerprint`; a store of
        another grid or engine is refused (:class:`ConfigError` naming what differs)."""
        differences = describe_differences(stored, fingerprint)
        if differences:
            raise ConfigError(f"{path}: cannot resume: it was made from a different grid or "
                              f"engine than {source}:\n  " + "\n  ".join(differences) +
                              "\n  (use --overwrite to start it again)")
        return cls(Path(path))

    def done(self) -> set[int]:
        """The numbers of the blocks whose every region is written."""
        return set(np.flatnonzero(self.flags[:]).tolist())

    def save(self, number: int, pieces: list[tuple[dict, xr.Dataset]]) -> None:
        """Write a block's pieces into their regions, then flag the block done.

        The layout was written by xarray; here the arrays are written through
        zarr directly (xarray's ``to_zarr(region=...)`` re-reads the store's
        metadata on every call, which costs more than writing the block). The variables' encoding is the
        identity (float64 with NaN fill, bool), and the tests read the store back
        through xarray and compare it with the in-memory dataset, bit for bit.
        """
        for region, data in pieces:
            for name, variable in data.data_vars.items():
                array = self._array(name)
                where = tuple(region[dim] for dim in array.attrs["_ARRAY_DIMENSIONS"])
                array[where] = variable.values
        self.flags[number] = True

    def _array(self, name: str):
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    def finish(self, attrs: dict) -> None:
        """Record the run's attrs, mark the store complete, consolidate its metadata."""
        import zarr

        self.group.attrs.update(attrs | {"status": "complete"})
        zarr.consolidate_metadata(self.path)


def fingerprint(config, chunks: tuple[int, ...], version: str, backend: str,
                dtype: str) -> dict:
    """What fixes a store's contents: the grid (everything that changes a value),
    the chunk layout, the engine's version, the backend (a GPU's libm and FMAs
    may move last bits) and the dtype. Workers, block order and timing change
    nothing, so they are not in it."""
    return {
        "engine": version,
        "backend": backend,
        "sweep.dtype": dtype,
        "chunks": list(chunks),
        "optimizers": list(config.optimizers),
        "objective": [config.spec.kind, config.spec.name, repr(config.spec.params),
                      config.spec.digest, repr(config.spec.minimizers), config.spec.minimum],
        "objective.start": [list(point) for point in config.starts],
        "objective.bound": config.bound,
        "objective.bounds": None if config.bounds is None else [list(b) for b in config.bounds],
        "objective.noise": config.noise,
        "objective.seeds": list(config.seeds),
        "sweep.steps": config.steps,
        "sweep.tol": config.tol,
        "sweep.record_every": config.record_every,
        "sweep.record": config.record,
        "sweep.schedule": list(config.schedules),
        "schedule": [config.warmup, config.step_every, config.step_factor],
        "options": [list(option) for option in config.options],
        **{f"grid.{axis.name}": [float(v).hex() for v in axis.values] for axis in config.axes},
    }


def describe_differences(stored: dict, current: dict) -> list[str]:
    """One line per key whose value differs: ``sweep.steps: the store has 100, now 200``."""
    lines = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key), current.get(key)
        if old != new:
            lines.append(f"{key}: the store has {_short(key, old)}, this run {_short(key, new)}")
    return lines


def _short(key: str, value) -> str:
    if key.startswith("grid.") and isinstance(value, list):
        numbers = [float.fromhex(v) for v in value]
        shown = ", ".join(f"{v:g}" for v in numbers[:3]) + (", …" if len(numbers) > 3 else "")
        return f"{len(numbers)} values [{shown}]"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "…"


def exists(path: str | Path) -> bool:
    path = Path(path)
    return path.exists() or path.is_symlink()


def _partial(path: Path) -> Path:
    """A temporary name beside ``path``; a killed run's leftovers of the same name go first."""
    for stale in path.parent.glob(f".{path.name}.partial-*"):
        _remove(stale)
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


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
