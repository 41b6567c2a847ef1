"""K-means over rows spread across the ranks.

    mpiexec -n 2 python examples/kmeans.py

Each rank draws its own rows around four true centers, the ranks fit one
k-means model together, each rank labels its own rows locally, and rank 0
prints the centers, the global inertia and the cluster sizes over all ranks.
"""

import numpy as np

import skspmd
from skspmd.cluster import SPMDKMeans

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

true_centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
rng = np.random.default_rng(rank)  # every rank has its own rows
labels = rng.integers(0, 4, size=25_000)
X = true_centers[labels] + rng.standard_normal((labels.size, 2))

km = SPMDKMeans(n_clusters=4, random_state=0).fit(X)  # collective
local_sizes = np.bincount(km.predict(X), minlength=4)  # local: this rank's rows
sizes = comm.allreduce(local_sizes)
score = km.score(X)  # collective: minus the global inertia

if rank == 0:
    np.set_printoptions(precision=3, suppress=True)
    order = np.lexsort(np.round(km.cluster_centers_).T[::-1])  # by x, then y
    print(f"{comm.Get_size()} rank(s), {sizes.sum()} rows, {km.n_iter_} iterations")
    print("centers (sorted):\n", km.cluster_centers_[order])
    print("cluster sizes:", sizes[order])
    print(f"inertia {km.inertia_:.1f}, score {score:.1f}")
