"""Read one CSV file per rank, and one shared .npy file, with skspmd.io.

    mpiexec -n 2 python examples/read_csv_per_rank.py

The script first writes the files itself (each rank its own part; rank 0 the
shared file) into a temporary directory, then reads them back the way a real
job would, and fits a collective estimator on what each rank read.
"""

import os
import tempfile

import numpy as np

import skspmd
from skspmd import SPMDBasicStatistics

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

# a directory every rank sees: rank 0 creates it and tells the others
folder = comm.bcast(tempfile.mkdtemp(prefix="skspmd-csv-") if rank == 0 else None, root=0)

# --- write the inputs (normally they already exist) ---
rng = np.random.default_rng(rank)
part = rng.normal(loc=10.0 * rank, size=(1000 + 100 * rank, 3))
with open(os.path.join(folder, f"part{rank}.csv"), "w") as f:
    f.write("height,width,depth\n")  # a header row is detected and skipped
    np.savetxt(f, part, delimiter=",")
if rank == 0:
    np.save(os.path.join(folder, "all.npy"), np.arange(30.0).reshape(10, 3))
comm.Barrier()

# --- read: each rank its own file ({} -> rank) ---
X = skspmd.io.read_local(os.path.join(folder, "part{}.csv"))
stats = SPMDBasicStatistics(result_options=["mean", "min", "max"]).fit(X)

# --- read: each rank its block of one shared file (memory-mapped) ---
block = skspmd.io.read_rows(os.path.join(folder, "all.npy"))
start, stop = skspmd.io.partition(10)

counts = comm.gather(X.shape[0], root=0)
blocks = comm.gather((start, stop, block.shape[0]), root=0)
if rank == 0:
    print("rows read per rank from part{}.csv:", counts)
    print("global mean", stats.mean_, "min", stats.min_, "max", stats.max_)
    print("blocks of all.npy (start, stop, rows):", blocks)
comm.Barrier()
if rank == 0:
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
