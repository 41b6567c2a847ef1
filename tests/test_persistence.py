"""A model fitted under mpiexec -n 2 and saved by rank 0 loads and predicts in plain python."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from mpi_plugin import clean_env, mpiexec_path

SCRIPT = textwrap.dedent(
    """
    import sys
    import joblib
    import numpy as np
    import skspmd

    comm = skspmd.get_comm()
    rank = comm.Get_rank()
    rng = np.random.default_rng(rank)
    X = rng.poisson(3.0, size=(40, 4)).astype(float)
    y = (np.arange(40) + rank) % 3
    probe = np.arange(20.0).reshape(5, 4) % 7
    models, outputs = {}, {}
    for name in skspmd.__all__:
        cls = getattr(skspmd, name)
        if not (isinstance(cls, type) and name.startswith("SPMD") and hasattr(cls, "fit")):
            continue
        if getattr(cls, "_skspmd_collective_queries", False):
            continue  # the model is the distributed training data (docs/spmd_model.md)
        est = cls()
        needs_y = est.__sklearn_tags__().target_tags.required
        est.fit(X, y) if needs_y else est.fit(X)
        models[name] = est
        for method in ("predict", "transform", "predict_proba", "score_samples", "mahalanobis"):
            if hasattr(est, method):
                outputs[name] = (method, getattr(est, method)(probe))
                break
    if rank == 0:
        joblib.dump({"models": models, "outputs": outputs}, sys.argv[1])
    """
)


@pytest.mark.serial
def test_fitted_under_mpi_loads_in_plain_python(tmp_path):
    script = tmp_path / "fit_and_save.py"
    script.write_text(SCRIPT)
    saved = tmp_path / "models.joblib"
    proc = subprocess.run(
        [mpiexec_path(), "-n", "2", sys.executable, str(script), str(saved)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = joblib.load(saved)
    assert bundle["models"], "no estimator was saved"
    probe = np.arange(20.0).reshape(5, 4) % 7
    for name, (method, expected) in bundle["outputs"].items():
        got = getattr(bundle["models"][name], method)(probe)
        np.testing.assert_array_equal(got, expected, err_msg=name)
    assert set(bundle["outputs"]) >= {"SPMDStandardScaler", "SPMDEmpiricalCovariance"}
