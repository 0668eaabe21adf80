"""A checkpoint is replaced whole or not at all (a job killed mid-write must resume cleanly)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fdi.atomic import replacing


def test_a_write_that_fails_halfway_leaves_the_previous_file_and_no_debris(tmp_path):
    target = tmp_path / "checkpoint.npz"
    with replacing(target) as partial, partial.open("wb") as out:
        np.savez(out, step=np.asarray(10))
    with pytest.raises(RuntimeError), replacing(target) as partial, partial.open("wb") as out:
        out.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("killed")
    assert int(np.load(target)["step"]) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


def test_a_writer_killed_at_random_instants_always_leaves_a_whole_checkpoint(tmp_path):
    """SIGKILL a process that rewrites a 4 MB checkpoint in a loop: what it leaves always loads."""
    writer = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from fdi.atomic import replacing\n"
        "target = Path(sys.argv[1])\n"
        "for step in range(10**6):\n"
        "    with replacing(target) as partial, partial.open('wb') as out:\n"
        "        np.savez(out, step=np.asarray(step), weights=np.full(500_000, step, dtype=np.float64))\n"
        "    print(step, flush=True)\n"
    )
    for delay in (0.3, 0.45, 0.6):
        target = tmp_path / f"checkpoint-{delay}.npz"
        job = subprocess.Popen([sys.executable, "-c", writer, str(target)], stdout=subprocess.PIPE, text=True)
        assert job.stdout.readline()  # one checkpoint written
        time.sleep(delay)
        os.kill(job.pid, signal.SIGKILL)
        job.wait()
        saved = np.load(target)
        assert np.all(saved["weights"] == saved["step"])  # whole: every element from the same step
