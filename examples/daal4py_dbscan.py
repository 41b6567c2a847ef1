"""A daal4py DBSCAN SPMD script, unchanged except for its import line.

    mpiexec -n 2 python examples/daal4py_dbscan.py

Each rank writes its share of the data to its own CSV file, then clusters
``part{rank}.csv`` with daal4py's distributed ``dbscan``.
"""

import os
import tempfile

import numpy as np
from sklearn.datasets import make_blobs

import skspmd.daal4py as d4p  # was: import daal4py as d4p

d4p.daalinit()
rank, size = d4p.my_procid(), d4p.num_procs()

X, _ = make_blobs(n_samples=3000, centers=5, cluster_std=0.5, random_state=1)
directory = tempfile.gettempdir()
path = os.path.join(directory, f"skspmd_dbscan_example_{os.getppid()}_part{{}}.csv")
np.savetxt(path.format(rank), np.array_split(X, size)[rank], delimiter=",")

algo = d4p.dbscan(epsilon=0.5, minObservations=10, distributed=True)
result = algo.compute(path.format(rank))
os.remove(path.format(rank))

if rank == 0:
    print(f"{size} rank(s): {int(result.nClusters[0, 0])} clusters")
    print("rank 0 assignments (first 10):", result.assignments[:10, 0])
d4p.daalfini()
