"""Training across machines: the ``TF_CONFIG`` cluster, the multi-worker strategy, and the few collectives a run
needs besides the gradients' all-reduce.

A cluster is described the standard way, by the ``TF_CONFIG`` environment variable (what Kubeflow's TFJob and
TensorFlow's multi-worker guide set)::

    {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 0}}

``train --cluster host:port,host:port --worker-index i`` writes it for you. The workers train under
``tf.distribute.MultiWorkerMirroredStrategy`` (collective all-reduce over gRPC, no parameter server). The chief
(the task of type ``chief``, else worker 0) alone writes the run folder; the other workers write the same files to
a temporary folder they delete, and take the run's settings and its restored checkpoint from the chief, so they
need only the data (at the same path), not the run folder.

This module imports TensorFlow only inside the functions that use it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Seconds a worker waits for the whole cluster to come up before it gives up (``train --cluster-timeout``).
DEFAULT_TIMEOUT_S = 300.0


class ClusterError(RuntimeError):
    """A worker could not reach, or lost, the others; the message names the address and what to do."""


def _parse_address(address: str) -> str:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address.strip()!r} is not a worker address of the form host:port")
    return f"{host}:{int(port)}"


def tf_config(addresses: str | list[str], index: int) -> str:
    """The ``TF_CONFIG`` value for worker ``index`` of ``addresses`` ("host:port,host:port"; worker 0 is the chief)."""
    if isinstance(addresses, str):
        addresses = [a for a in addresses.split(",") if a.strip()]
    workers = [_parse_address(a) for a in addresses]
    if len(set(workers)) != len(workers):
        raise ValueError(f"--cluster names an address twice: {','.join(workers)}")
    if index is None or not 0 <= index < len(workers):
        raise ValueError(f"--worker-index must be 0 to {len(workers) - 1} for a cluster of {len(workers)} workers, "
                         f"not {index}")
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


@dataclass(frozen=True)
class Cluster:
    """The tasks of a ``TF_CONFIG`` cluster, chief first, and which one this process is."""

    tasks: tuple[tuple[str, int, str], ...]  # (type, index, "host:port"), in MultiWorkerMirroredStrategy's order
    rank: int  # this worker's position in ``tasks``: 0 is the chief

    @property
    def count(self) -> int:
        return len(self.tasks)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def name(self, rank: int | None = None) -> str:
        kind, index, address = self.tasks[self.rank if rank is None else rank]
        return f"{kind} {index} at {address}"


def from_env(environ=None) -> Cluster | None:
    """The cluster that ``TF_CONFIG`` describes, or ``None`` when it is unset or names a single task."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
        jobs, task = config.get("cluster") or {}, config.get("task") or {}
    except (ValueError, AttributeError):
        raise ValueError(f"TF_CONFIG is not a JSON object with 'cluster' and 'task': {raw[:200]}") from None
    others = sorted(set(jobs) - {"chief", "worker"})
    if others:
        raise ValueError(f"TF_CONFIG names {', '.join(others)} tasks; training here is all-reduce across 'chief' "
                         "and 'worker' tasks only (MultiWorkerMirroredStrategy, no parameter server or evaluator)")
    if isinstance(jobs.get("chief"), list) and len(jobs["chief"]) > 1:
        raise ValueError("TF_CONFIG names more than one chief")
    tasks = tuple((kind, i, _parse_address(str(address)))
                  for kind in ("chief", "worker") for i, address in enumerate(jobs.get(kind) or []))
    if len(tasks) <= 1:
        return None
    mine = [r for r, (kind, i, _) in enumerate(tasks) if kind == task.get("type") and i == task.get("index")]
    if not mine:
        raise ValueError(f"TF_CONFIG's task {task} is not one of its cluster's tasks")
    return Cluster(tasks, mine[0])


# ------------------------------------------------------------------------------------------------ connecting
def reachable(address: str, timeout: float = 2.0) -> str | None:
    """``None`` when a TCP connection to ``address`` opens, else why not ("Connection refused", …)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or type(err).__name__


def _blamed(cluster: Cluster, message: str) -> list[int]:
    """The other workers a TensorFlow error message names ("/job:worker/replica:0/task:1"), as ranks."""
    ranks = []
    for kind, index in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", message):
        rank = next((r for r, t in enumerate(cluster.tasks) if t[:2] == (kind, int(index))), None)
        if rank is not None and rank != cluster.rank and rank not in ranks:
            ranks.append(rank)
    return ranks


def _not_joined(cluster: Cluster, timeout: float, err) -> str:
    """Which workers did not join, and why: the addresses that refuse a connection, else those TensorFlow names."""
    missing = [f"no answer from {cluster.name(r)} ({why})" for r in range(cluster.count) if r != cluster.rank
               for why in [reachable(cluster.tasks[r][2])] if why]
    missing = missing or [f"{cluster.name(r)} answers but did not join" for r in _blamed(cluster, err.message)]
    waited = "; ".join(missing) or f"TensorFlow says: {err.message.splitlines()[0][:300]}"
    return (f"{cluster.name()} could not form the cluster of {cluster.count} workers within {timeout:g} s: "
            f"{waited}. Start every worker (the same cluster, each its own index), or raise --cluster-timeout.")


def connect(cluster: Cluster, timeout: float = DEFAULT_TIMEOUT_S):
    """Start this worker's ``MultiWorkerMirroredStrategy`` and wait until every worker has joined.

    Call it before any other TensorFlow op of the process. A worker that cannot reach the others within
    ``timeout`` seconds raises :class:`ClusterError` naming the address it waited for.
    """
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    # The strategy waits for the other workers inside C++ (holding the GIL, deaf to SIGTERM), by default for ever.
    # Set up its coordination service as it would itself, but with a deadline for every worker to register.
    jobs = [kind for kind in ("chief", "worker") if any(t[0] == kind for t in cluster.tasks)]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=f"/job:{cluster.tasks[0][0]}/replica:0/task:0",
        cluster_register_timeout_in_ms=int(timeout * 1000),
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(
            name=kind, num_tasks=sum(t[0] == kind for t in cluster.tasks)) for kind in jobs])
    context.context().coordination_service.cluster_register_with_barrier = True  # else the deadline is ignored
    log.info("%s: waiting for %d workers (up to %g s)", cluster.name(), cluster.count, timeout)
    # A failed join makes TensorFlow's C++ side log pages of its own (before our error, and again at exit): keep
    # them out of the terminal, so that the ClusterError's one sentence is what a user reads (-v: logged as DEBUG).
    failure = None
    with _cpp_stderr_captured() as captured:
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
            Collectives(strategy).any(False)  # a first all-reduce: every worker is up
        except tf.errors.OpError as err:
            failure = err
    if failure is not None:
        log.debug("TensorFlow's log while joining the cluster:\n%s", "".join(captured).rstrip())
        quiet_exit()
        raise ClusterError(_not_joined(cluster, timeout, failure))
    sys.stderr.write("".join(captured))  # joined: what TensorFlow logged meanwhile is worth seeing
    log.info("%s: the cluster of %d workers is up (%d replicas)", cluster.name(), cluster.count,
             strategy.num_replicas_in_sync)
    return strategy


_quiet_at_exit = False


@contextlib.contextmanager
def _cpp_stderr_captured():
    """Send file descriptor 2 (where TensorFlow's C++ side logs, past ``sys.stderr``) to a temporary file for the
    block; yields a list that holds what was written there once the block is over."""
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as file:
        os.dup2(file.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            file.seek(0)
            captured.append(file.read().decode("utf-8", "replace"))


def quiet_exit() -> None:
    """Once this process has lost its cluster, silence file descriptor 2 when it exits (after everything Python
    prints, the ``error: …`` line included): TensorFlow's coordination agent, shut down in an error state, logs a
    page of C++ errors at exit that would bury the one line that says what happened."""
    global _quiet_at_exit
    if _quiet_at_exit:
        return
    _quiet_at_exit = True

    def silence():
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)

    atexit.register(silence)  # runs before the interpreter's own teardown, where TensorFlow shuts the agent down


def lost(cluster: Cluster, err) -> str:
    """What a worker says when a collective fails mid-run: the workers TensorFlow blamed, and how to go on."""
    names = " and ".join(cluster.name(r) for r in _blamed(cluster, err.message)) or "the other workers"
    return (f"{cluster.name()} lost contact with {names} ({type(err).__name__}). Start every worker again with "
            "--resume: the run continues from the chief's last checkpoint.")


def worker_scratch(out: str | Path, rank: int) -> Path:
    """An empty folder where the non-chief worker ``rank`` writes its copy of run ``out`` (deleted at its end).

    One name per run folder and worker, in the temporary directory, so that the folder a worker killed by SIGKILL
    left behind is removed when that worker starts again for the same run (as ``--resume`` does).
    """
    key = hashlib.sha256(str(Path(out).expanduser().resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"pix2pix-worker{rank}-{key}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(mode=0o700)
    except OSError:  # someone else's folder of that name (another user's run in the same place)
        return Path(tempfile.mkdtemp(prefix=f"pix2pix-worker{rank}-"))
    return folder


# ----------------------------------------------------------------------------------------------- collectives
class Collectives:
    """The small all-reduces of a run outside its training steps, each one compiled function for any length.

    Every worker must make the same calls in the same order (as with any collective).
    """

    def __init__(self, strategy):
        import tensorflow as tf

        spec = [tf.TensorSpec([None], tf.float64)]
        sum_, mean = tf.distribute.ReduceOp.SUM, tf.distribute.ReduceOp.MEAN

        def first_replica_only(x):
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            return x * tf.cast(tf.equal(replica, 0), x.dtype)

        # The chief holds replica 0: summing its values with everyone else's zeros is a broadcast from the chief.
        self._from_chief = tf.function(
            lambda x: strategy.reduce(sum_, strategy.run(first_replica_only, (x,)), axis=None), input_signature=spec)
        self._mean = tf.function(
            lambda x: strategy.reduce(mean, strategy.run(tf.identity, (x,)), axis=None), input_signature=spec)

    def from_chief(self, values) -> np.ndarray:
        """The chief's ``values`` (a flat array) on every worker; the others pass an array of the same length."""
        return self._from_chief(np.asarray(values, np.float64).ravel()).numpy()

    def mean(self, values) -> np.ndarray:
        """The mean of ``values`` (a flat array of the same length everywhere) over all replicas."""
        return self._mean(np.asarray(values, np.float64).ravel()).numpy()

    def any(self, flag: bool) -> bool:
        """Whether any worker passed True."""
        return bool(self.mean([float(flag)])[0] > 0)

    def bytes_from_chief(self, data: bytes | None) -> bytes:
        """The chief's ``data`` on every worker (the others pass ``None``)."""
        n = int(self.from_chief([len(data) if data is not None else 0])[0])
        raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(n, np.uint8)
        return self.from_chief(raw).astype(np.uint8).tobytes()

    def json_from_chief(self, make) -> object:
        """``make()`` run on the chief, its JSON-able result on every worker; the chief's error raised everywhere.

        ``make`` runs only on the chief (it may read files only the chief has); ``None`` marks the other workers.
        """
        if make is None:
            payload = json.loads(self.bytes_from_chief(None))
        else:
            try:
                payload = {"value": make()}
            except (ValueError, OSError) as err:  # FileNotFoundError, DataError, …: every worker stops with it
                self.bytes_from_chief(json.dumps({"error": [type(err).__name__, str(err)]}).encode())
                raise
            self.bytes_from_chief(json.dumps(payload).encode())
        if "error" in payload:
            kind, message = payload["error"]
            raise (FileNotFoundError if kind == "FileNotFoundError" else ValueError)(f"on the chief: {message}")
        return payload["value"]

    def variables_from_chief(self, variables) -> None:
        """Give every worker the chief's values of ``variables`` (Keras or TensorFlow variables; one all-reduce)."""
        self._assign(variables, self.from_chief(_flatten(variables)))

    def average_variables(self, variables) -> None:
        """Set ``variables`` to their mean over the workers (BatchNorm statistics; one all-reduce)."""
        self._assign(variables, self.mean(_flatten(variables)))

    @staticmethod
    def _assign(variables, flat: np.ndarray) -> None:
        offset = 0
        for v in variables:
            n = int(np.prod(v.shape))
            v.assign(flat[offset:offset + n].reshape(v.shape).astype(_dtype(v)))
            offset += n


def _dtype(variable) -> np.dtype:
    dtype = variable.dtype
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def _flatten(variables) -> np.ndarray:
    arrays = [np.asarray(v.numpy(), np.float64).ravel() for v in variables]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def digest(variables) -> str:
    """A short sha256 of the variables' values: equal on two workers exactly when their weights are equal."""
    h = hashlib.sha256()
    for v in variables:
        h.update(np.ascontiguousarray(v.numpy()).tobytes())
    return h.hexdigest()[:16]
