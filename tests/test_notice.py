"""The notice before the kernels compile (substrate/notice.py)."""

from types import SimpleNamespace

from click.testing import CliRunner

import substrate.notice as notice
from substrate.cli import cli


def _kernel(index):
    """A stand-in dispatcher whose numba cache index is ``index``."""
    def load():
        if isinstance(index, Exception):
            raise index
        return index
    return SimpleNamespace(_cache=SimpleNamespace(_cache_file=SimpleNamespace(_load_index=load)))


def test_a_cold_cache_is_seen_from_its_index():
    assert notice.kernels_cold(_kernel({}))  # missing, stale or another numba's
    assert not notice.kernels_cold(_kernel({("key",): "overload.nbc"}))
    assert not notice.kernels_cold(_kernel(OSError("unreadable")))  # cannot tell: quiet
    assert not notice.kernels_cold(object())  # caching off or other internals: quiet
    assert isinstance(notice.kernels_cold(), bool)


def test_each_part_of_the_tick_is_compiled_once():
    """The loop compiled for a lone birth-death agent does not serve a
    Moran scenario: its plan's specialisation is looked for in the index."""
    from numba import types

    lone = ((types.int64, types.none, types.none, types.none), "magic", ("hash",))
    kernel = _kernel({lone: "advance-1.nbc"})
    assert not notice.kernels_cold(kernel, (None, None, None))
    assert notice.kernels_cold(kernel, (True, None, None))
    assert notice.kernels_cold(kernel, (None, None, 1.0))
    assert notice.compile_seconds((None, None, None)) == notice.COMPILE_SECONDS
    assert notice.compile_seconds((True, True, 1.0)) == notice.COMPILE_SECONDS + sum(
        notice.PART_SECONDS.values())


def _run(tmp_path, *extra):
    return CliRunner().invoke(cli, ["run", "singleton_baseline", "--replicates", "1",
                                    "--horizon", "5", "--out", str(tmp_path / "out"), *extra])


def test_run_says_once_that_it_compiles(monkeypatch, tmp_path):
    monkeypatch.setattr(notice, "kernels_cold", lambda kernel=None, plan=None: True)
    res = _run(tmp_path)
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert lines.count(f"note: compiling the simulation kernels, once per install: about "
                       f"{notice.COMPILE_SECONDS} s") == 1
    assert "singleton_baseline: 1 replicate(s)" in res.stdout


def test_no_notice_when_compiled_or_on_error(monkeypatch, tmp_path):
    monkeypatch.setattr(notice, "kernels_cold", lambda kernel=None, plan=None: False)
    assert "compiling" not in _run(tmp_path).stderr
    monkeypatch.setattr(notice, "kernels_cold", lambda kernel=None, plan=None: True)
    bad = _run(tmp_path, "--set", "copy.error_rate=2")  # refused before anything runs
    assert bad.exit_code == 2 and bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith("error:")
