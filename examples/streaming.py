"""Stream a file bigger than memory: iter_rows + partial_fit, the same batches on every rank.

    mpiexec -n 2 python examples/streaming.py

Rank 0 first writes a CSV file (features, with a header) and a .npy file (the
target) into a temporary directory; a real job would have them already. Then every
rank streams its block of both files in batches of 500 rows, side by side, and feeds
each batch to three collective ``partial_fit`` calls. Every rank gets the same number
of batches (a rank that runs out gets empty ones), so the loop is collective-safe.
The models equal their in-memory fits on all rows.
"""

import os
import tempfile

import numpy as np

import skspmd
from skspmd import SPMDIncrementalPCA, SPMDLinearRegression, SPMDStandardScaler, io

comm = skspmd.get_comm()
rank = comm.Get_rank()
folder = comm.bcast(tempfile.mkdtemp(prefix="skspmd-stream-") if rank == 0 else None, root=0)
x_path, y_path = os.path.join(folder, "X.csv"), os.path.join(folder, "y.npy")

# --- write the inputs (normally they already exist) ---
if rank == 0:
    rng = np.random.default_rng(0)
    X_all = rng.standard_normal((5_003, 8)) * np.arange(1, 9) + 10.0
    y_all = X_all @ np.linspace(-1, 1, 8) + rng.standard_normal(5_003)
    with open(x_path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(8)) + "\n")
        np.savetxt(f, X_all, delimiter=",", fmt="%.17g")
    np.save(y_path, y_all)
comm.Barrier()

# --- stream: this rank's block of both files, 500 rows at a time ---
scaler, ipca, reg = SPMDStandardScaler(), SPMDIncrementalPCA(3), SPMDLinearRegression()
batches = zip(io.iter_rows(x_path, 500), io.iter_rows(y_path, 500))
for i, (X, y) in enumerate(batches):
    scaler.partial_fit(X)
    ipca.partial_fit(X)
    reg.partial_fit(X, y)

# --- the same models fitted on the whole blocks in memory ---
X, y = io.read_rows(x_path), io.read_rows(y_path)
in_memory = SPMDLinearRegression().fit(X, y)
if rank == 0:
    print(f"{i + 1} batches per rank; rows seen: {int(scaler.n_samples_seen_)}")
    print("mean", np.round(scaler.mean_, 3))
    print("explained variance", np.round(ipca.explained_variance_, 3))
    print("streamed coef  ", np.round(reg.coef_, 4))
    print("in-memory coef ", np.round(in_memory.coef_, 4))
    print("largest difference:", float(np.abs(reg.coef_ - in_memory.coef_).max()))
comm.Barrier()
if rank == 0:
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
