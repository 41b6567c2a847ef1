"""daal4py SPMD PCA on pandas DataFrames (one CSV per rank), both methods; rank 0 prints."""

import json
import os
import sys

import pandas as pd

import daal4py as d4p

if __name__ == "__main__":
    d4p.daalinit()
    frame = pd.read_csv(os.path.join(sys.argv[1], f"X_{d4p.my_procid()}.csv"), header=None)
    for method in ("correlationDense", "svdDense"):
        algo = d4p.pca(method=method, resultsToCompute="mean|variance|eigenvalue", distributed=True)
        result = algo.compute(frame)
        if d4p.my_procid() == 0:
            print(f"{method}.eigenvalues =", json.dumps(result.eigenvalues.tolist()))
            print(f"{method}.eigenvectors =", json.dumps(result.eigenvectors.tolist()))
            print(f"{method}.means =", json.dumps(result.means.tolist()))
            print(f"{method}.variances =", json.dumps(result.variances.tolist()))
    d4p.daalfini()
