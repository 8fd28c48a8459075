"""`kill_process_tree` on a real process tree whose child forks a grandchild after the
tree was listed: the group's SIGKILL ends it, and the call returns only once it is gone.

This test's process adopts the tree's orphans (`PR_SET_CHILD_SUBREAPER`, as init would),
so one left behind stays among its own children, a zombie nobody waits for; only the
tree's group is counted (the worker's other children, a PostgreSQL server, are not)."""

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Iterator

import psutil
import pytest

from adw_tui.agents.process import kill_process_tree

PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 0.5
# The leader ignores SIGTERM and starts the child; the child, told to end (SIGTERM, once
# the tree was listed), forks a grandchild that says its pid and sleeps.
LEADER = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", sys.argv[1]])
time.sleep(60)
"""
CHILD = """
import os, signal, time
def fork_late(signum, frame):
    if os.fork() == 0:
        os.write(1, b"%d\\n" % os.getpid())
        time.sleep(60)
        os._exit(0)
signal.signal(signal.SIGTERM, fork_late)
os.write(1, b"ready\\n")
while True:
    time.sleep(60)
"""


def group_members(group: int) -> list[int]:
    """This process's descendants (adopted orphans included) in `group`, zombies too."""
    members = []
    for child in psutil.Process().children(recursive=True):
        try:
            if os.getpgid(child.pid) == group:
                members.append(child.pid)
        except ProcessLookupError:
            pass
    return members


@pytest.fixture
def adopting_orphans() -> Iterator[list[int]]:
    """This process adopts orphans while the test runs; the groups the test appends are
    killed and reaped afterwards, whatever it left."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, os.strerror(ctypes.get_errno())
    groups: list[int] = []
    try:
        yield groups
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for pid in (pid for group in groups for pid in group_members(group)):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


async def test_a_process_forked_after_the_tree_was_listed_is_gone_when_it_returns(
    adopting_orphans: list[int],
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LEADER,
        CHILD,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    adopting_orphans.append(process.pid)
    assert process.stdout is not None
    async with asyncio.timeout(20):
        assert await process.stdout.readline() == b"ready\n"
        await kill_process_tree(process, grace_s=GRACE_S)
        left = group_members(process.pid)
        forked_late = [int(pid) for pid in (await process.stdout.read()).split()]
    assert forked_late, "the child forked nothing once told to end"
    assert left == []
