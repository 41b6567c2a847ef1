"""DBSCAN over rows spread across the ranks.

    mpiexec -n 2 python examples/dbscan.py

Each rank holds a share of two interleaved half moons plus some noise. The
ranks cluster all the rows together (one distributed radius search; clusters
that span the ranks are joined without gathering the rows); each rank gets
the labels of its own rows, numbered as scikit-learn numbers them on all rows.
"""

import numpy as np
from sklearn.datasets import make_moons

import skspmd
from skspmd import SPMDDBSCAN

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

X, _ = make_moons(n_samples=2000, noise=0.05, random_state=0)
X = np.vstack([X, np.random.default_rng(0).uniform(-1.5, 2.5, size=(40, 2))])
mine = np.array_split(np.arange(len(X)), size)[rank]  # this rank's rows

db = SPMDDBSCAN(eps=0.1, min_samples=8).fit(X[mine])  # collective
labels = db.labels_  # this rank's rows
counts = comm.allreduce(np.bincount(labels + 1, minlength=3))  # noise, cluster 0, 1

if rank == 0:
    print(f"{size} rank(s), {len(X)} rows: noise {counts[0]}, clusters {counts[1:].tolist()}")
    print(f"core rows on rank 0: {len(db.core_sample_indices_)} of {len(mine)}")
