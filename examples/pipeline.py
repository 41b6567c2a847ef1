"""A distributed pipeline: scale, reduce with PCA, cluster with k-means.

    mpiexec -n 2 python examples/pipeline.py

Fitting is collective; predict is local; the fitted pipeline is the same on
every rank and equals scikit-learn's pipeline on all the rows.
"""

import numpy as np

import skspmd
from skspmd import SPMDKMeans, SPMDPCA, SPMDStandardScaler
from skspmd.pipeline import make_pipeline

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

# 3 groups in 10 dimensions; this rank's block of 30,000 rows
n_rows = 30_000
start, stop = skspmd.io.partition(n_rows)
rng = np.random.default_rng(rank)
centers = np.random.default_rng(0).normal(scale=6.0, size=(3, 10))
labels_true = rng.integers(0, 3, size=stop - start)
X = centers[labels_true] + rng.standard_normal((stop - start, 10))

model = make_pipeline(SPMDStandardScaler(), SPMDPCA(n_components=2), SPMDKMeans(3, random_state=0))
model.fit(X)
labels = model.predict(X)  # local
counts = comm.allreduce(np.bincount(labels, minlength=3))
if rank == 0:
    print(f"{size} rank(s), {n_rows} rows")
    print("PCA explained variance ratio:", model[1].explained_variance_ratio_)
    print("k-means inertia:", model[2].inertia_, "iterations:", model[2].n_iter_)
    print("rows per cluster:", counts)
