"""PCA of rows spread over the ranks.

    mpiexec -n 2 python examples/pca.py

Each rank draws its own rows from the same 3-dimensional Gaussian embedded in 10
features plus a little noise; the ranks fit one PCA together (each solver in turn),
each rank projects its own rows locally, and rank 0 prints what was learned.
"""

import numpy as np

import skspmd
from skspmd.decomposition import SPMDPCA

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

basis = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 3)))[0].T  # shared
rng = np.random.default_rng(100 + rank)  # each rank its own rows
latent = rng.standard_normal((20_000, 3)) * [5.0, 2.0, 1.0]
X = latent @ basis + 0.05 * rng.standard_normal((20_000, 10)) + 3.0

for solver in ("covariance_eigh", "full", "randomized"):
    pca = SPMDPCA(n_components=0.99 if solver != "randomized" else 3,
                  svd_solver=solver, random_state=0).fit(X)
    if rank == 0:
        print(f"{solver:16s} n_components_={pca.n_components_} "
              f"explained variance {np.round(pca.explained_variance_, 3)}")

X_new = pca.transform(X)  # local: this rank's rows only
loglik = pca.score(X)  # collective: the global average log-likelihood
if rank == 0:
    print("rows over all ranks", pca.n_samples_)
    print("true axes recovered (|cos| per component):",
          np.round(np.abs(np.sum(pca.components_ * basis, axis=1)), 4))
    print("projected shape on rank 0", X_new.shape, " average log-likelihood", round(loglik, 4))
