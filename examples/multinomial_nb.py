"""Multinomial naive Bayes on word counts spread across the ranks.

    mpiexec -n 2 python examples/multinomial_nb.py

Each rank draws its own "documents" (sparse word counts) from three topics;
rank 1 sees only two of the topics. The ranks fit one classifier together;
rank 0 prints the classes (the union over all ranks), the counts and the
global accuracy.
"""

import numpy as np
import scipy.sparse as sp

import skspmd
from skspmd.naive_bayes import SPMDMultinomialNB

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

n_words, n_docs = 200, 5_000
topics = np.array(["finance", "science", "sport"])
word_probs = np.random.default_rng(123).dirichlet(np.full(n_words, 0.1), size=3)

rng = np.random.default_rng(rank)
topic_ids = rng.integers(0, 3 if rank != 1 else 2, size=n_docs)
lengths = rng.poisson(40, size=n_docs)
counts = np.array([rng.multinomial(m, word_probs[t]) for m, t in zip(lengths, topic_ids)])
X, y = sp.csr_matrix(counts), topics[topic_ids]

nb = SPMDMultinomialNB(alpha=0.5).fit(X, y)  # collective
accuracy = nb.score(X, y)  # collective: accuracy over every rank's rows
predicted = nb.predict(X[:5])  # local

if rank == 0:
    print(f"{comm.Get_size()} rank(s); classes: {nb.classes_}")
    print("documents per class:", nb.class_count_)
    print("most frequent words per class:", np.argsort(-nb.feature_count_, axis=1)[:, :5])
    print(f"training accuracy {accuracy:.3f}; first predictions {predicted}")
