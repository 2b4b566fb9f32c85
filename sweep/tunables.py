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

# Cells advanced in lockstep by the CPU kernel (the vector width LLVM sees).
# Measured on a 2-core AVX-512 EPYC, Adam on Rosenbrock: 32 lanes 144, 64 lanes
# 164, 128 lanes 170 M trajectory-steps/s on one thread.
LANES = 64
# The rules whose lockstep step runs a chunk of lanes at a time (the objective, the
# metrics and the update of 16 lanes, then the next 16), so that the update's divisions
# and roots overlap the next chunk's other work; the others run the whole block in each
# phase. Keyed by the width of the vectors LLVM gives the lane loops on this machine
# (sweep.kernels.numba_support.vector_bits), as the two machines measured disagree.
# - 256 bits, an Intel Xeon with AVX-512 (LLVM prefers 256-bit vectors there); the kernel
#   alone, one thread, Rosenbrock, M trajectory-steps/s, 64 lanes whole -> in chunks of
#   16: adam 319 -> 340, adamw 316 -> 327, nadam 287 -> 303, adagrad 347 -> 405, adadelta
#   334 -> 373; but sgd 887 -> 751, momentum 769 -> 696, adamax 496 -> 434, and amsgrad
#   and rmsprop 314 and 255 -> 142 and 146 (LLVM leaves their chunk loops scalar).
# - 512 bits, an AMD EPYC (Zen 5), docs/trials/lane_chunks.py (the variants interleaved in
#   one process): chunks of 16 lanes (two vectors) were slower for every rule (adam 379
#   against 558 whole, sgd 741 against 1104, adagrad 591 against 692, amsgrad and rmsprop
#   97 against 499 and 413), and chunks of 32 slower for seven (adam 441, sgd 819,
#   nesterov 819 against 970, adadelta, amsgrad, adamw, adamax), the other four within
#   the noise (momentum 983 against 956, adagrad 713, rmsprop 456, nadam 451 against 452).
# - 512 bits too, an AMD EPYC (Zen 4, which runs 512-bit vectors as two halves), the same
#   script: chunks of 16 slower for the Adam family (adam 321, adamw 323, nadam 287 against
#   361, 345, 307 whole), faster for adagrad (470 against 417), adadelta within the noise
#   (414 against 407); chunks of 32 no faster for any of these. Whole blocks, as on the Zen 5.
# Other widths (128 bits: no AVX) were not measured; they run whole blocks.
LANE_CHUNK = {256: {"adam": 16, "adamw": 16, "nadam": 16, "adagrad": 16, "adadelta": 16}}
# Problems of at most this many coordinates get a lockstep kernel of their own dimension
# (a compile-time constant: 329 against 308 M/s on 2-D Rosenbrock); larger ones share one.
LOCKSTEP_FIXED_DIM = 8
# Cells trained in lockstep by the model kernel. Samples go through in tiles of 32, so θ
# is read once a tile, not once a sample, and longer lane loops win over θ staying in L2:
# an MLP 64-32-10 on digits (Adam, batch 32, 2 cores) ran at 25.0, 35.1, 40.0 k
# trajectory-steps/s with 8, 16, 32 lanes on 64 cells, and 35.9, 40.8, 43.2 with 16, 32,
# 64 on 256 cells (a block holds at least this many cells: 64 would leave a core idle
# on 64 cells).
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
