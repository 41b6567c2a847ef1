"""k-means++ seeding over rows spread across the ranks.

    mpiexec -n 2 python examples/kmeans_plusplus.py

Each rank holds its own block of one global data set. ``kmeans_plusplus`` is
collective: every rank gets the same centers and the same GLOBAL row numbers
(positions in the concatenation of the ranks' rows in rank order), which are
scikit-learn's ``kmeans_plusplus`` on all rows. Each rank then finds which of
the chosen rows it holds itself.
"""

import numpy as np
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

import skspmd

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

# the global data (built the same way on every rank here, to compare with
# scikit-learn at the end; a real job reads only its own rows)
true_centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
rng = np.random.default_rng(0)
X = true_centers[rng.integers(0, 4, size=4_000)] + rng.standard_normal((4_000, 2))
start, stop = skspmd.io.partition(len(X))  # this rank's block of rows
X_local = X[start:stop]

centers, indices = skspmd.kmeans_plusplus(X_local, n_clusters=4, random_state=0)  # collective

mine = (indices >= start) & (indices < stop)  # the chosen rows this rank holds
assert np.array_equal(X_local[indices[mine] - start], centers[mine])
held = comm.gather(int(mine.sum()), root=0)

if rank == 0:
    expected_centers, expected_indices = sklearn_kmeans_plusplus(X, 4, random_state=0)
    np.set_printoptions(precision=3, suppress=True)
    print(f"{size} rank(s), {len(X)} rows")
    print("centers:\n", centers)
    print("global row numbers:", indices, "- chosen rows held per rank:", held)
    print("same as scikit-learn on all rows:",
          np.array_equal(indices, expected_indices)
          and np.array_equal(centers, expected_centers))
