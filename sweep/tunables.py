"""Tunables in one place, so tests can patch them (stumpy's ``config.py``)."""

# A block of the grid is sized to about this many trajectory-steps, so that a
# block takes a fraction of a second and the progress bar moves.
BLOCK_TRAJECTORY_STEPS = 1 << 25
# At least this many blocks per worker, so that uneven blocks even out...
BLOCKS_PER_WORKER = 4
# ... but no block smaller than this many trajectory-steps (a few ms of work):
# below it, dispatching costs more than it spreads.
MIN_BLOCK_TRAJECTORY_STEPS = 1 << 20
# Refuse a grid whose results would take more than this share of the RAM.
MAX_MEMORY_FRACTION = 0.5

# Cells advanced in lockstep by the CPU kernel: the length of the lane loops LLVM
# vectorizes. Longer blocks gain little past 64 (Adam, one thread, 512-bit vectors: 32, 64,
# 128 lanes at 144, 164, 170 M/s; `python benchmarks/lane_chunks.py 32x0,64x0,128x0 adam`).
LANES = 64
# The rules whose lockstep step runs a chunk of lanes at a time (the objective, the metrics
# and the update of 16 lanes, then the next 16), so that the update's divisions and roots
# overlap the next chunk's other work; the others run the whole block in each phase. Keyed
# by the width of the vectors LLVM gives the lane loops (sweep.kernels.numba_support.
# vector_bits). With 256-bit vectors chunks pay for the rules the divider bounds and cost
# the others (adam 319 -> 340 M/s, sgd 887 -> 751); with 512-bit vectors a chunk of 16 is
# two vectors and every rule ran slower in chunks (adam 558 -> 379), so whole blocks there
# and for widths not measured (`python benchmarks/lane_chunks.py 64x0,64x16,64x32`).
LANE_CHUNK = {256: {"adam": 16, "adamw": 16, "nadam": 16, "adagrad": 16, "adadelta": 16}}
# Problems of at most this many coordinates get a lockstep kernel of their own dimension:
# the dimension is then a compile-time constant, and so is every lane row's offset (LLVM
# needs no run-time overlap checks); larger problems share one kernel.
LOCKSTEP_FIXED_DIM = 8
# Cells trained in lockstep by the model kernel. Samples go through in tiles of 32, so θ
# is read once a tile, not once a sample, and longer lane loops win over θ staying in L2;
# a block holds at least this many cells, so more lanes would leave a core idle on small
# grids (MLP 64-32-10 on digits, 64 cells: 8, 16, 32 lanes at 25.0, 35.1, 40.0 k/s;
# `python -c "from sweep import bench_models as b; print(b.lanes_rows(64, 500, 3))"`).
MODEL_LANES = 32
# "lockstep" (fast) or "simple" (one cell at a time: the reference the tests
# compare the fast kernel with, bit for bit).
KERNEL = "lockstep"
# On a Dask cluster, at most this many blocks per worker thread are in flight:
# enough to keep every thread fed, few enough that memory holds blocks, not the grid.
CLUSTER_BLOCKS_PER_THREAD = 2
# How long to try reaching a Dask scheduler before giving up.
CLUSTER_CONNECT_TIMEOUT = "10s"
# Cells per block on the CUDA backend: one block is one launch (chunked further to
# the devices' free memory), and a GPU needs ~10^5 threads in flight to be busy.
CUDA_BLOCK_CELLS = 1 << 20
