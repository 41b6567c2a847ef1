"""Incremental PCA over the ranks: fit in global batches, or partial_fit batch by batch.

    mpiexec -n 2 python examples/incremental_pca.py

Each rank draws its own rows from the same 3-dimensional Gaussian embedded in 12
features. ``fit`` cuts the global rows into batches of ``batch_size`` rows, exactly as
scikit-learn's ``fit`` cuts ``X`` (a batch may span ranks); ``partial_fit`` takes each
rank's rows of one global batch, here ``200`` rows per rank at a time. Rank 0 prints
what was learned; every rank holds the same model.
"""

import numpy as np

import skspmd
from skspmd import SPMDIncrementalPCA

comm = skspmd.get_comm()
rank = comm.Get_rank()

basis = np.linalg.qr(np.random.default_rng(0).standard_normal((12, 3)))[0].T  # shared
rng = np.random.default_rng(100 + rank)  # each rank its own rows
latent = rng.standard_normal((3_000, 3)) * [4.0, 2.0, 1.0]
X = latent @ basis + 0.05 * rng.standard_normal((3_000, 12)) + 1.0

# fit: global batches of 500 rows over the rows of every rank
ipca = SPMDIncrementalPCA(n_components=3, batch_size=500).fit(X)

# partial_fit: every rank passes its next 200 rows; the batch is their union
streamed = SPMDIncrementalPCA(n_components=3)
for start in range(0, X.shape[0], 200):
    streamed.partial_fit(X[start : start + 200])

Z = ipca.transform(X)  # local: this rank's rows only
if rank == 0:
    print("rows seen over all ranks:", int(ipca.n_samples_seen_), "in batches of", ipca.batch_size_)
    print("explained variance (fit):        ", np.round(ipca.explained_variance_, 3))
    print("explained variance (partial_fit):", np.round(streamed.explained_variance_, 3))
    print(
        "true axes recovered (|cos| per component):",
        np.round(np.abs(np.sum(ipca.components_ * basis, axis=1)), 4),
    )
    print("projected shape on rank 0:", Z.shape)
