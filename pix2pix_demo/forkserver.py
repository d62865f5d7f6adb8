"""A fork server for the live trainer, forked from the app itself before it runs anything in TensorFlow.

Why: a live training's process needs TensorFlow, Keras and the engine imported, about 230 MB of Python modules and
C++ registries. A ``spawn`` ed process imports its own copy; multiprocessing's ``forkserver`` starts a fresh
interpreter too, so its imports are shared with the trainer but not with the app. This server is a ``fork`` of the
app taken right after the app's imports and before its first TensorFlow op (TensorFlow's runtime and thread pools
must never be forked; an imported but unused TensorFlow can be). Each training is a fork of the server, so the app,
the server and the trainer share the imported pages (copy-on-write) and a run costs only what it adds.

``start()`` (in the app, before any model is loaded) forks the server; :func:`launch` then runs
``target(*args, conn)`` in a fresh fork of it and returns a :class:`Forked` handle whose ``conn`` (a
``multiprocessing.connection.Connection``) carries messages both ways. Where the server is not running (not Linux,
or a process that has already run TensorFlow, such as a test session), :func:`running` is false and callers use
``spawn``.
"""

from __future__ import annotations

import gc
import logging
import os
import select
import signal
import socket
import sys
import threading
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

_server: Server | None = None


def tensorflow_started() -> bool:
    """Whether this process has created TensorFlow's eager runtime (after which it must not fork)."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - a TensorFlow without this module: assume the worst
        return True
    ctx = context.context_safe()
    return ctx is not None and getattr(ctx, "_context_handle", True) is not None


class Server:
    """The app's side of the fork server: its pid and the control socket that passes it one socket per launch."""

    def __init__(self, pid: int, control: socket.socket):
        self.pid, self._control, self._lock = pid, control, threading.Lock()

    def launch(self, target, args: tuple = ()) -> Forked:
        """Run ``target(*args, conn)`` in a new fork of the server; ``target`` must be importable by name."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(self._control, [b"L"], [theirs.fileno()])
        finally:
            theirs.close()
        conn = Connection(mine.detach())
        try:
            if not conn.poll(30):
                raise OSError("the fork server did not answer")
            pid = conn.recv()
            conn.send((target, args))
        except (OSError, EOFError) as err:
            conn.close()
            raise OSError(f"could not start a process from the fork server: {err}") from None
        return Forked(pid, conn)

    def close(self) -> None:
        self._control.close()  # the server sees the end of its control socket and exits


class Forked:
    """A process started by :meth:`Server.launch`: ``pid``, ``conn``, ``is_alive()``, ``kill()``, ``join()``."""

    def __init__(self, pid: int, conn: Connection):
        self.pid, self.conn = pid, conn
        try:  # readable once the process has exited (it is the server's child, not ours, so no waitpid)
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def is_alive(self) -> bool:
        if self._pidfd is not None:
            return not select.select([self._pidfd], [], [], 0)[0]
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def join(self, timeout: float | None = None) -> None:
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def close(self) -> None:
        self.conn.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    __del__ = close  # a finished run's handle is dropped when the next run replaces it: its descriptors go too


def _serve(control: socket.socket) -> None:
    """The server's loop: for each socket received, fork a process that runs what arrives on it."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the server's children
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the app's terminal is the app's to handle
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 16, 4)
        except OSError:
            return
        if not msg:
            return  # the app has gone
        for fd in fds[1:]:
            os.close(fd)
        if not fds:
            continue
        if os.fork() == 0:
            control.close()
            code = 1
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                conn = Connection(fds[0])
                conn.send(os.getpid())
                target, args = conn.recv()
                target(*args, conn)
                code = 0
            except BaseException:  # noqa: BLE001 -- a child must never return into the server's loop
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(fds[0])


def start() -> Server | None:
    """Fork the server (once per process). Returns None, and :func:`running` stays false, where it cannot run: not
    Linux, or TensorFlow already started here."""
    global _server
    if _server is not None:
        return _server
    if not (hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform.startswith("linux")):
        return None
    if tensorflow_started():
        log.info("fork server not started: TensorFlow is already running in this process")
        return None
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    gc.collect()
    gc.freeze()  # the garbage collector would otherwise write to every object and un-share their pages
    pid = os.fork()
    if pid == 0:
        mine.close()
        try:
            _serve(theirs)
        finally:
            os._exit(0)
    theirs.close()  # the app's objects stay frozen: its collections then leave the shared pages alone
    _server = Server(pid, mine)
    log.info("fork server for live training started (pid %d)", pid)
    return _server


def running() -> bool:
    return _server is not None


def launch(target, args: tuple = ()) -> Forked:
    """:meth:`Server.launch` on this process' server; raises RuntimeError when there is none."""
    if _server is None:
        raise RuntimeError("no fork server: call forkserver.start() before TensorFlow runs")
    return _server.launch(target, args)
