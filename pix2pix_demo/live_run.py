"""Live training seen from the app: start a run, read its reports, stop it; one run at a time per process.

The training itself is :func:`pix2pix_demo.live_training.train_worker`, in a child process (or a thread, see
:class:`~pix2pix_demo.live_training.LiveSpec`). A run nobody reads any more (page closed, client gone) stops itself
after :data:`ORPHAN_S` seconds; a worker that overstays its deadline is killed. The names of
:mod:`~pix2pix_demo.live_training` the app needs are re-exported here.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from dataclasses import asdict

from . import forkserver
from .live_training import (  # noqa: F401
    DEFAULT_ARCHS,
    DEFAULT_SECONDS,
    LIVE_ARCHS,
    LIVE_SIZE,
    LIVE_TASKS,
    MAX_IMAGES,
    MAX_SECONDS,
    MIN_SECONDS,
    LiveSpec,
    forked_worker,
    prepare_images,
    train_worker,
)

log = logging.getLogger(__name__)

#: Nobody has read the progress for this long (page closed, client gone): the run stops itself.
ORPHAN_S = 45.0
#: A model's build and first trace, for the "ends in N s" estimate before training starts.
SETUP_S_PER_MODEL = 12.0


class Busy(RuntimeError):
    """Another run is going on; ``ends_in`` is about how many seconds it has left."""

    def __init__(self, ends_in: float):
        super().__init__(f"a training is running; it ends in {ends_in:.0f} s")
        self.ends_in = ends_in


def _thread_worker(spec: dict, images, out, stop) -> None:
    try:  # Linux: only this thread (its Python work); TensorFlow's own thread pools stay as they are
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), spec["nice"])
    except (AttributeError, OSError):
        pass
    train_worker(spec, images, out, stop, isolated=False)


class _Connection:
    """The app's end of a forked worker's connection, used as the reports' queue (``get``) and the stop event
    (``set``) of a spawned one. Once the worker has gone, ``get`` finds nothing (after a short wait)."""

    def __init__(self, conn):
        self.conn, self._send = conn, threading.Lock()

    def get(self, timeout: float | None = None) -> dict:
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (OSError, EOFError):
            time.sleep(min(timeout or 0.0, 0.2))
        raise queue.Empty

    def get_nowait(self) -> dict:
        return self.get(0)

    def set(self) -> None:
        with self._send:
            try:
                self.conn.send("stop")
            except OSError:  # the worker has gone
                pass


def start_fork_server() -> bool:
    """Import what a training needs and fork the fork server (:mod:`pix2pix_demo.forkserver`) from which every
    ``isolation="process"`` run then starts, sharing these imports with the app. Call it before the app loads a
    model; False where it cannot run (then runs are spawned)."""
    # Everything a run imports, imported here and so shared with every run: the engine, and what the tasks' pair
    # makers load on first use (the app loads most of it too, later; imported after the fork, each process would
    # hold a copy).
    import scipy.ndimage  # noqa: F401
    import skimage.color  # noqa: F401
    import skimage.feature  # noqa: F401
    import skimage.morphology  # noqa: F401
    from PIL import JpegImagePlugin  # noqa: F401

    from . import export, hints, night, recipes, tasks, training  # noqa: F401

    return forkserver.start() is not None


class LiveRun:
    """One run, seen from the app: :meth:`start` it, :meth:`poll` its reports, :meth:`stop` it.

    ``history`` holds every curve point (``step``, ``seconds``, ``arch``, ``curve`` = "train" or "held-out",
    ``l1``); ``latest`` the last report; ``state`` is "new", "setup", "training", "done" or "error".
    """

    def __init__(self, spec: LiveSpec, images):
        self.spec = spec
        self.images = prepare_images(images, spec.image_size)
        self.token = secrets.token_hex(16)
        self.history: list[dict] = []
        self.latest: dict | None = None
        self.started: dict | None = None
        self.result: dict | None = None
        self.error: str | None = None
        self.state, self.note = "new", "starting the trainer"
        self.created = self.last_read = time.monotonic()
        self.training_since: float | None = None
        self.stop_requested: float | None = None
        self._worker = None

    # ---------------------------------------------------------------------------------------- control
    def start(self) -> LiveRun:
        spec = asdict(self.spec)
        if self.spec.isolation == "thread":
            self._queue, self._stop = queue.Queue(), threading.Event()
            self._worker = threading.Thread(target=_thread_worker, args=(spec, self.images, self._queue, self._stop),
                                            name="p2p-live-training", daemon=True)
            self._worker.start()
        elif forkserver.running():  # a fork of the app's fork server, sharing the app's imported TensorFlow
            self._worker = forkserver.launch(forked_worker, (spec, self.images))
            self._queue = self._stop = _Connection(self._worker.conn)
        else:
            import multiprocessing as mp

            # A fresh interpreter (TensorFlow must not be forked). The images go through a queue: in the process
            # arguments, a child that dies before reading them all would block start() on a full pipe.
            # (The queues and the event must live as long as the child: it opens their semaphores by name.)
            ctx = mp.get_context("spawn")
            self._queue, self._stop, self._inbox = ctx.Queue(), ctx.Event(), ctx.Queue()
            self._worker = ctx.Process(target=train_worker, args=(spec, self._inbox, self._queue, self._stop, True),
                                       name="p2p-live-training", daemon=True)
            self._worker.start()
            self._inbox.cancel_join_thread()  # never wait at exit for a child that did not read its images
            self._inbox.put(self.images)
        self.state = "setup"
        threading.Thread(target=self._watch, name="p2p-live-watchdog", daemon=True).start()
        return self

    def stop(self) -> None:
        """Ask the run to end: it finishes its step, reports, saves the generators and exits."""
        if self.stop_requested is None:
            self.stop_requested = time.monotonic()
        self._stop.set()

    def kill(self) -> None:
        if not isinstance(self._worker, threading.Thread) and self._worker is not None and self._worker.is_alive():
            log.warning("live training: killing the worker (pid %s)", self._worker.pid)
            self._worker.kill()

    @property
    def running(self) -> bool:
        """Whether the worker is still at work (the lock is held until it has exited)."""
        return self._worker is not None and self._worker.is_alive()

    @property
    def pid(self) -> int | None:
        return getattr(self._worker, "pid", None)

    def ends_in(self) -> float:
        """About how many seconds are left (setup, training, saving)."""
        now = time.monotonic()
        if self.stop_requested is not None:
            return max(1.0, 10.0 - (now - self.stop_requested))
        if self.training_since is None:
            setup = SETUP_S_PER_MODEL * len(self.spec.archs) + 5.0 - (now - self.created)
            return max(5.0, setup) + self.spec.seconds
        return max(0.0, self.spec.seconds - (now - self.training_since)) + 3.0

    def _watch(self) -> None:
        """Stop a run nobody reads any more; kill a worker that overstays its deadline."""
        hard = self.created + self.spec.seconds + 3 * SETUP_S_PER_MODEL * len(self.spec.archs) + 120.0
        while self.running:
            time.sleep(0.5)
            now = time.monotonic()
            if self.stop_requested is None and now - self.last_read > ORPHAN_S:
                log.info("live training: nobody has read its progress for %.0f s; stopping it", ORPHAN_S)
                self.stop()
            if now > hard or (self.stop_requested is not None and now - self.stop_requested > 90.0):
                self.kill()
                break
        if not isinstance(self._worker, threading.Thread) and self._worker is not None:
            self._worker.join(5)

    # -------------------------------------------------------------------------------------- progress
    def poll(self, timeout: float = 1.0) -> list[dict]:
        """The reports that arrived, waiting up to ``timeout`` s for the first one; updates the run's state."""
        self.last_read = time.monotonic()
        msgs = []
        try:
            msgs.append(self._queue.get(timeout=timeout))
            while True:
                msgs.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if not msgs and self.state not in ("done", "error") and not self.running:
            try:  # the last words of a worker that has just exited
                msgs.append(self._queue.get(timeout=0.5))
            except queue.Empty:
                msgs.append({"kind": "error", "message": "the training process ended unexpectedly"})
        for msg in msgs:
            self._apply(msg)
        return msgs

    def _apply(self, msg: dict) -> None:
        kind = msg.get("kind")
        if kind == "setup":
            self.note = msg["what"]
        elif kind == "started":
            self.started, self.state, self.training_since = msg, "training", time.monotonic()
            self.note = "training"
        elif kind in ("progress", "done"):
            for arch, g in msg["generators"].items():
                for curve, key in (("train", "train_l1"), ("held-out", "heldout_l1")):
                    if g.get(key) is not None:
                        self.history.append({"step": msg["step"], "seconds": round(msg["elapsed"], 2),
                                             "arch": arch, "curve": curve, "l1": g[key]})
            if msg["generators"]:
                self.latest = msg
            if kind == "done":
                self.result, self.state = msg, "done"
                self.note = "stopped" if msg["reason"] == "stopped" else "time is up"
        elif kind == "error":
            self.error, self.state = msg["message"], "error"
            if msg.get("trace"):
                log.error("live training failed:\n%s", msg["trace"])

    def wait(self, timeout: float | None = None) -> LiveRun:
        """Poll until the run is done (or failed) and its worker has exited."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.state not in ("done", "error") or self.running:
            if end is not None and time.monotonic() > end:
                raise TimeoutError("the live run did not end in time")
            self.poll(1.0)
        return self


# ------------------------------------------------------------------------------------------ one at a time
_lock = threading.Lock()
_current: LiveRun | None = None


def current() -> LiveRun | None:
    return _current


def start_exclusive(spec: LiveSpec, images) -> LiveRun:
    """Start a run, unless one is going on in this process: then raise :class:`Busy`."""
    global _current
    with _lock:
        if _current is not None and _current.running:
            raise Busy(_current.ends_in())
        run = LiveRun(spec, images)
        _current = run.start()
        return run


def stop_run(token: str) -> bool:
    """Stop the current run if ``token`` is its token (so only the session that started it can stop it)."""
    run = _current
    if run is None or not isinstance(token, str) or not secrets.compare_digest(token, run.token):
        return False
    run.stop()
    return True
