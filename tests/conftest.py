import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A test run started in the background of a shell without job control
# (`pytest &`, nohup) inherits SIGINT ignored, and so would every command the
# tests start, so the tests of SIGINT would see it ignored: give the commands
# the default disposition, as a terminal's would have.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 2 MiB of its own (tmpfs; needs root, else the
    test is skipped), to be filled with :func:`fill`."""
    import subprocess

    where = tmp_path / "disk"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (mounting a tmpfs needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` with one file, leaving ``leave`` bytes free."""
    import os

    free = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - leave))
