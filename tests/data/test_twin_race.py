"""Two processes asking for the same synthetic twin at once (vadlib.data.synthetic.generate): the
twin is generated once, under an inter-process lock, into a temporary directory renamed into
place; both processes get the finished twin, identical to one generated alone."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from vadlib.data import synthetic
from vadlib.data.integrity import RECORD_NAME

TWIN = "mvtec_ad"

#: one contender: waits until the other is ready too, then asks for the twin. Its generator notes
#: each call in a log and then pauses, so that the other process arrives while it generates.
CONTENDER = """
import importlib, os, sys, time
from pathlib import Path
from vadlib.data import synthetic

root, name, signals, me, other = sys.argv[1:]
signals = Path(signals)
for module in synthetic._MODULES:
    twins = importlib.import_module(f"vadlib.data.synthetic.{module}").TWINS
    if name in twins:
        real = twins[name]
        def noted(out, **options):
            with open(signals / "generations.log", "a") as log:
                log.write(f"{os.getpid()}\\n")
            time.sleep(0.5)
            real(out, **options)
        twins[name] = noted
(signals / f"ready-{me}").touch()
deadline = time.monotonic() + 120
while not (signals / f"ready-{other}").exists() and time.monotonic() < deadline:
    time.sleep(0.01)
print(synthetic.generate(name, size="tiny", seed=0, data_root=Path(root)))
"""


def file_hashes(directory: Path) -> dict[str, str]:
    """sha256 of every file of a twin but its integrity record (which carries a creation time)."""
    return {path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file() and path.name != RECORD_NAME}


def test_two_processes_generating_one_twin_at_once_both_get_the_finished_twin(tmp_path):
    root, signals = tmp_path / "shared", tmp_path / "signals"
    signals.mkdir()
    contenders = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(root), TWIN, str(signals), me, other],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for me, other in (("a", "b"), ("b", "a"))]
    outcomes = [process.communicate(timeout=300) for process in contenders]
    assert [process.returncode for process in contenders] == [0, 0], [err for _, err in outcomes]

    alone = synthetic.generate(TWIN, size="tiny", seed=0, data_root=tmp_path / "alone")
    shared = Path(outcomes[0][0].strip())
    assert Path(outcomes[1][0].strip()) == shared == synthetic.twin_root("tiny", 0, root) / alone.name
    assert (signals / "generations.log").read_text().count("\n") == 1  # the second process waited
    assert file_hashes(shared) == file_hashes(alone) and file_hashes(alone)
    assert [p.name for p in shared.parent.iterdir()] == [alone.name]  # no temporary directory left
