"""daal4py SPMD DBSCAN, as in daal4py's example: every rank loads the file and takes its slice."""

import json
import os
import sys

from numpy import loadtxt

import daal4py as d4p


def main(infile, epsilon=1.5, minObservations=4):
    data = loadtxt(infile, delimiter=",")
    # slice the data: rows per process
    rpp = int(data.shape[0] / d4p.num_procs())
    data = data[rpp * d4p.my_procid() : rpp * d4p.my_procid() + rpp, :]
    algo = d4p.dbscan(
        epsilon=epsilon,
        minObservations=minObservations,
        resultsToCompute="computeCoreIndices|computeCoreObservations",
        distributed=True,
    )
    return algo.compute(data)


if __name__ == "__main__":
    d4p.daalinit()
    result = main(os.path.join(sys.argv[1], "kmeans_dense.csv"))
    if d4p.my_procid() == 0:
        print("assignments =", json.dumps(result.assignments.ravel().tolist()))
        print("nClusters =", json.dumps(result.nClusters.tolist()))
        print("coreIndices =", json.dumps(result.coreIndices.ravel().tolist()))
    d4p.daalfini()
