"""A daal4py SPMD k-means script running on skspmd: only the import line changed.

Run with ``mpiexec -n 2 python examples/daal4py_kmeans.py``. As in daal4py's
SPMD examples, every rank reads its own CSV file (``kmeans_data/part{rank}.csv``,
no header); here each rank first writes its file (three blobs in 2-D, a
different number of rows per rank) into ``kmeans_data/`` in the current
directory. k-means++ seeding and the Lloyd iterations run over the rows of
every rank; the centroids are the same on every rank, and each rank gets the
cluster of each of its own rows.

The original script, with ``import daal4py as d4p``, also runs with no edit at
all: ``mpiexec -n 2 python -m skspmd.daal4py daal4py_kmeans.py``.
"""

import os

import numpy as np

import skspmd.daal4py as d4p  # was: import daal4py as d4p

N_CLUSTERS = 3
MAX_ITERATIONS = 50

d4p.daalinit()
rank, size = d4p.my_procid(), d4p.num_procs()

# this rank's file (in a real job the files already exist)
os.makedirs("kmeans_data", exist_ok=True)
rng = np.random.RandomState(rank)
centers = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
rows = np.vstack([rng.randn(20 + 10 * rank, 2) * 0.7 + c for c in centers])
np.savetxt(os.path.join("kmeans_data", f"part{rank}.csv"), rows, delimiter=",")

# the daal4py script itself
init = d4p.kmeans_init(N_CLUSTERS, method="plusPlusDense", distributed=True)
centroids = init.compute("kmeans_data/part{}.csv", d4p.my_procid()).centroids
algo = d4p.kmeans(N_CLUSTERS, MAX_ITERATIONS, assignFlag=True, distributed=True)
result = algo.compute("kmeans_data/part{}.csv", d4p.my_procid(), centroids)
d4p.daalfini()

counts = np.bincount(result.assignments.ravel(), minlength=N_CLUSTERS)
print(f"rank {rank}: {rows.shape[0]} rows, per cluster {counts.tolist()}", flush=True)
if rank == 0:
    print(f"{size} rank(s); initial centroids (k-means++):\n{centroids.round(3)}")
    n_iter = int(result.nIterations[0, 0])
    print(f"centroids after {n_iter} iterations:\n{result.centroids.round(3)}")
    print(f"objective function (sum of squared distances): {result.objectiveFunction[0, 0]:.3f}")
