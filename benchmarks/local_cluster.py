"""Worker processes on this machine: free ports on 127.0.0.1 for a cluster, and each worker pinned to its own core.

The 1-vs-2-worker benchmark (``benchmarks/training.py``) and the multi-worker tests (``tests/test_multiworker.py``)
start their workers this way; what each worker runs, and how it learns the cluster (``TF_CONFIG`` or
``train --cluster``), is theirs.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports on 127.0.0.1 that are free now (all held open together, so none is given twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def local_addresses(n: int) -> list[str]:
    """``n`` worker addresses "127.0.0.1:port" on free ports."""
    return [f"127.0.0.1:{p}" for p in free_ports(n)]


def start_pinned(args: list[str], rank: int, out: Path, err: Path, env: dict, cwd: Path) -> subprocess.Popen:
    """Start ``args`` with its stdout and stderr written to ``out`` and ``err``, pinned to one core: the
    ``rank``-th of those this process may use (round again when there are fewer cores than workers).

    The pinning happens as soon as the process exists, before it starts any thread: all of its threads inherit it.
    """
    cores = sorted(os.sched_getaffinity(0))
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    os.sched_setaffinity(proc.pid, {cores[rank % len(cores)]})
    return proc
