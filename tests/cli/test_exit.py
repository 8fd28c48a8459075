"""`exit_now`, how the `adw` console script ends: without the interpreter's teardown, yet
with what the teardown does that a user could see (exit handlers, buffered output, the
exit code), and as the interpreter would when a thread is still at work. Each case runs
in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT_HEAD = """
import atexit, sys, threading, time
from pathlib import Path
from adw_tui.cli import exit_now
atexit.register(lambda: print("exit handler ran"))
"""
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
"""The environment, with stdout and stderr buffered as they are by default."""


def run_script(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT_HEAD + body, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=BUFFERED,
    )


def test_output_and_exit_handlers_come_out_and_the_code_is_kept():
    done = run_script(
        'print("to stdout", end=" ")\nprint("to stderr", file=sys.stderr)\nexit_now(3)'
    )
    assert done.returncode == 3
    assert done.stdout == "to stdout exit handler ran\n"
    assert done.stderr == "to stderr\n"


def test_a_thread_still_working_is_waited_for(tmp_path: Path):
    written = tmp_path / "written"
    body = (
        "def work():\n"
        "    time.sleep(0.3)\n"
        "    Path(sys.argv[1]).write_text('done')\n"
        "threading.Thread(target=work).start()\n"
        "exit_now(0)\n"
    )
    done = run_script(body, str(written))
    assert done.returncode == 0
    assert written.read_text() == "done"
    assert done.stdout == "exit handler ran\n"


def test_a_closed_stdout_is_the_interpreters_to_report():
    # Buffered output whose reader is gone by the exit (it waits for stdin to close,
    # which the test does after closing its end of stdout): the flush fails, and the
    # interpreter ends as it would have, saying so with its exit code 120.
    script = SCRIPT_HEAD + 'print("buffered")\nsys.stdin.read()\nexit_now(0)'
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=BUFFERED,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    process.stdin.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 120
    assert "BrokenPipeError" in stderr
