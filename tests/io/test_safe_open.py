"""Reading untrusted .splat files in a child process: a crash or a hang of the reader becomes
a SplatFormatError; valid and merely invalid files read as `read_stored` reads them."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import audiosplat.io.safe_open as safe_open
from audiosplat.core.errors import SplatFormatError
from audiosplat.io.safe_open import read_stored_isolated
from audiosplat.io.splat_format import read_stored
from tests.cli_runner import assert_one_line_error, run_cli
from tests.shared import GOLDEN


def test_a_valid_file_reads_as_read_stored_reads_it():
    isolated, direct = read_stored_isolated(GOLDEN), read_stored(GOLDEN)
    assert isolated.config == direct.config
    assert all((isolated.parameters[k] == v).all() for k, v in direct.parameters.items())


def test_an_invalid_file_gives_the_readers_own_error(tmp_path):
    bad = tmp_path / "cut.splat"
    bad.write_bytes(GOLDEN.read_bytes()[:3000])
    with pytest.raises(SplatFormatError) as isolated:
        read_stored_isolated(bad)
    with pytest.raises(SplatFormatError) as direct:
        read_stored(bad)
    assert str(isolated.value) == str(direct.value)


def _signal_the_child(sent: signal.Signals) -> threading.Thread:
    """Send `sent` to the reader's child process as soon as it exists."""

    def find_and_signal():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"audiosplat.io.safe_open" in command:
                    os.kill(int(pid), sent)
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=find_and_signal, daemon=True)
    thread.start()
    return thread


def test_a_reader_that_crashes_gives_a_format_error(tmp_path):
    thread = _signal_the_child(signal.SIGSEGV)  # what a crafted file can make the HDF5 library do
    with pytest.raises(SplatFormatError, match=r"golden-v1.splat: the HDF5 library crashed reading it \(killed by SIGSEGV\); not a valid .splat"):
        read_stored_isolated(GOLDEN)
    thread.join()


def test_a_reader_that_hangs_gives_a_format_error(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_open, "START_TIMEOUT_S", 2.0)
    thread = _signal_the_child(signal.SIGSTOP)  # stands still from then on, as in a hang
    start = time.monotonic()
    with pytest.raises(SplatFormatError, match=r"golden-v1.splat: the HDF5 library hung reading it \(no answer in 2 s\); not a valid .splat"):
        read_stored_isolated(GOLDEN, timeout_s=2)
    assert time.monotonic() - start < 10  # the stopped child is killed, not waited for
    thread.join()


def test_a_fifo_that_never_delivers_data_is_refused_in_time(tmp_path):
    fifo = tmp_path / "x.splat"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # a writer that never writes
    try:
        with pytest.raises(SplatFormatError, match="x.splat"):
            read_stored_isolated(fifo, timeout_s=5)
    finally:
        os.close(writer)


def test_inspect_check_isolated(tmp_path):
    bad = tmp_path / "bad.splat"
    bad.write_bytes(b"not hdf5" * 100)
    result = run_cli("inspect", "--check", "--isolated", GOLDEN)
    assert result.exit_code == 0 and "valid .splat" in result.stderr
    assert_one_line_error(run_cli("inspect", "--check", "--isolated", bad), bad, "not HDF5")
