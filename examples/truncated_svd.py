"""Truncated SVD (no centring) and the distributed QR/SVD of rows spread over the ranks.

    mpiexec -n 2 python examples/truncated_svd.py

Each rank holds its own rows of a sparse, non-negative term-count-like matrix; the
ranks fit one truncated SVD together (randomized and exact), and rank 0 prints the
singular values. Then the same rows go through skspmd.linalg.svd (TSQR), whose U
stays distributed like the rows.
"""

import numpy as np
import scipy.sparse as sp

import skspmd
from skspmd import linalg
from skspmd.decomposition import SPMDTruncatedSVD

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

X = sp.random(5_000, 40, density=0.1, random_state=rank, format="csr") * 10
X.data = np.round(X.data)

for algorithm in ("randomized", "arpack"):
    svd = SPMDTruncatedSVD(n_components=5, algorithm=algorithm, random_state=0).fit(X)
    if rank == 0:
        print(f"{algorithm:10s} singular values {np.round(svd.singular_values_, 3)}  "
              f"explained variance ratio {svd.explained_variance_ratio_.sum():.4f}")

U_local, s, Vt = linalg.svd(X.toarray())  # collective; s and Vt on every rank
Q_local, R = linalg.qr(X.toarray())
orthogonality = comm.allreduce(U_local.T @ U_local)  # sum of the local U^T U blocks
if rank == 0:
    print("TSQR singular values", np.round(s[:5], 3))
    print("U local rows", U_local.shape, " max |U^T U - I| =",
          f"{np.abs(orthogonality - np.eye(40)).max():.1e}")
    print("R diagonal (non-negative)", np.round(np.diag(R)[:5], 3))
