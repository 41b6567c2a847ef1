"""Benchmarked fits: k-means and multinomial naive Bayes (issue: SPMDKMeans, SPMDMultinomialNB).

- ``kmeans``: k-means++ initialisation plus 50 Lloyd iterations (``tol=0``,
  ``max_iter=50``), k=10, on standard normal data (no cluster structure, so
  all 50 iterations run), like daal4py's ``kmeans_init`` + ``kmeans``.
- ``multinomial_nb``: Poisson(1) counts, 20 classes computed row-wise.
"""

from _common import Algo

KMEANS = dict(n_clusters=10, n_init=1, max_iter=50, tol=0.0, random_state=0)


def _skspmd_kmeans(X, y):
    from skspmd.cluster import SPMDKMeans

    SPMDKMeans(**KMEANS).fit(X)


def _sklearn_kmeans(X, y):
    from sklearn.cluster import KMeans

    KMeans(**KMEANS).fit(X)


def _skspmd_nb(X, y):
    from skspmd.naive_bayes import SPMDMultinomialNB

    SPMDMultinomialNB().fit(X, y)


def _sklearn_nb(X, y):
    from sklearn.naive_bayes import MultinomialNB

    MultinomialNB().fit(X, y)


ALGOS = {
    "kmeans": Algo(_skspmd_kmeans, _sklearn_kmeans, 1_000_000, 50, daal4py="kmeans"),
    "multinomial_nb": Algo(
        _skspmd_nb, _sklearn_nb, 500_000, 1000, kind="counts", target="classes", daal4py="mnb"
    ),
}
