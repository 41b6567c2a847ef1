"""daal4py SPMD k-means, as in daal4py's example: every rank loads the file and takes its slice.

k-means++ seeding, Lloyd iterations, then the assignment idiom (maxIterations=0)
for the final centroids.
"""

import json
import os
import sys

from numpy import loadtxt

import daal4py as d4p


def main(infile, nClusters=3, maxIter=25):
    init_algo = d4p.kmeans_init(nClusters, method="plusPlusDense", distributed=True)
    data = loadtxt(infile, delimiter=",")
    # slice the data: rows per process
    rpp = int(data.shape[0] / d4p.num_procs())
    data = data[rpp * d4p.my_procid() : rpp * d4p.my_procid() + rpp, :]
    init_result = init_algo.compute(data)
    algo = d4p.kmeans(nClusters, maxIter, distributed=True)
    result = algo.compute(data, init_result.centroids)
    assign = d4p.kmeans(nClusters, 0, assignFlag=True, distributed=True)
    assignments = assign.compute(data, result.centroids).assignments
    return init_result, result, assignments


if __name__ == "__main__":
    d4p.daalinit()
    init_result, result, assignments = main(os.path.join(sys.argv[1], "kmeans_dense.csv"))
    if d4p.my_procid() == 0:
        print("init =", json.dumps(init_result.centroids.tolist()))
        print("centroids =", json.dumps(result.centroids.tolist()))
        print("objectiveFunction =", json.dumps(result.objectiveFunction.tolist()))
        print("nIterations =", json.dumps(result.nIterations.tolist()))
        print("assignments =", json.dumps(assignments.ravel().tolist()))
    d4p.daalfini()
