"""The README's main job: a distributed pipeline on data every rank makes itself.

    mpiexec -n 4 python examples/quickstart.py

Each rank generates its own block of one global data set (4 groups in 8
dimensions), fits a scaler -> PCA -> k-means pipeline and a covariance
collectively, checks that every rank holds the same model, and rank 0 prints
what was learned. With plain ``python examples/quickstart.py`` the same script
is a job of size 1 and gives scikit-learn's answer on the whole data.
"""

import numpy as np

import skspmd
from skspmd import SPMDBasicStatistics, SPMDKMeans, SPMDPCA, SPMDStandardScaler
from skspmd.pipeline import make_pipeline

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

# One global data set of 200,000 rows; this rank makes its contiguous block.
n_rows, n_features, n_groups = 200_000, 8, 4
start, stop = skspmd.io.partition(n_rows)
centers = np.random.default_rng(0).normal(scale=4.0, size=(n_groups, n_features))
rng = np.random.default_rng(1 + rank)
truth = rng.integers(0, n_groups, size=stop - start)
X = centers[truth] + rng.standard_normal((stop - start, n_features))

stats = SPMDBasicStatistics(result_options=["mean", "standard_deviation"]).fit(X)
model = make_pipeline(
    SPMDStandardScaler(), SPMDPCA(n_components=3), SPMDKMeans(n_groups, random_state=0)
)
model.fit(X)  # collective: every rank calls it with its own rows
labels = model.predict(X)  # local: this rank's rows only
sizes = comm.allreduce(np.bincount(labels, minlength=n_groups))

kmeans = model[-1]
replicated = len(set(comm.allgather(kmeans.cluster_centers_.tobytes()))) == 1
if rank == 0:
    np.set_printoptions(precision=3, suppress=True)
    print(f"skspmd {skspmd.__version__}: {size} rank(s), {n_rows} rows x {n_features} features")
    print("feature means         ", stats.mean_)
    print("feature std           ", stats.standard_deviation_)
    print("PCA explained variance", model[1].explained_variance_ratio_)
    print(f"k-means: inertia {kmeans.inertia_:.1f} after {kmeans.n_iter_} iterations")
    print("rows per cluster      ", sizes, "(4 groups of ~50,000 generated)")
    print("model identical on every rank:", replicated)
