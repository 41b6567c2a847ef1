"""Every script in examples/ runs under mpiexec -n 2 (the quickstart also at -n 4)."""

import glob
import os
import subprocess
import sys

import pytest
from mpi_plugin import clean_env, mpiexec_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
CASES = [(path, 2) for path in EXAMPLES] + [
    (os.path.join(ROOT, "examples", "quickstart.py"), 4)
]


@pytest.mark.serial
@pytest.mark.parametrize(
    "path, n", CASES, ids=[f"{os.path.basename(p)[:-3]}-np{n}" for p, n in CASES]
)
def test_example_runs(path, n, tmp_path):
    proc = subprocess.run(
        [mpiexec_path(), "-n", str(n), sys.executable, path],
        cwd=str(tmp_path),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip(), "an example prints what it learned"
    assert "Traceback" not in proc.stderr
