"""daal4py SPMD multinomial naive Bayes: training over every rank, prediction local."""

import json
import os
import sys

import daal4py as d4p

N_CLASSES = 3

if __name__ == "__main__":
    d4p.daalinit()
    folder = sys.argv[1]
    counts = os.path.join(folder, "counts_{}.csv")
    labels = os.path.join(folder, "labels_{}.csv")
    train = d4p.multinomial_naive_bayes_training(N_CLASSES, distributed=True)
    model = train.compute(counts, labels, d4p.my_procid()).model
    predict = d4p.multinomial_naive_bayes_prediction(N_CLASSES)
    prediction = predict.compute(counts.format(d4p.my_procid()), model).prediction
    if d4p.my_procid() == 0:
        print("LogP =", json.dumps(model.LogP.tolist()))
        print("LogTheta =", json.dumps(model.LogTheta.tolist()))
        print("prediction =", json.dumps(prediction.tolist()))
    d4p.daalfini()
