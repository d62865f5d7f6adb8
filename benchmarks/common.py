"""Timing, memory, FLOP counting and the results table shared by the benchmark sections."""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: A target is a regression when the measurement misses it by more than this fraction.
TOLERANCE = 0.20


def median_ms(fn, repeats: int, warmup: int = 2) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` in ms over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


def percentile(values, q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def private_env(base: Path) -> dict[str, str]:
    """HOME, TMPDIR and Gradio's cache under ``base``, the Hub offline: a run touches no user files, no network."""
    for sub in ("home", "tmp", "gradio"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return {"HOME": str(base / "home"), "TMPDIR": str(base / "tmp"), "GRADIO_TEMP_DIR": str(base / "gradio"),
            "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2"}


# ---------------------------------------------------------------------------------------------- memory
def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB (from /proc; Linux)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """Samples this process's RSS every few milliseconds while the ``with`` block runs."""

    def __init__(self, interval: float = 0.003):
        self.interval, self.peak, self.start = interval, 0.0, 0.0
        self._stop = threading.Event()

    def __enter__(self):
        self.start = self.peak = rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


# ------------------------------------------------------------------------------------------------ FLOPs
def _layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # a nested model (the MobileNetV2 encoder)
            yield from _layers(layer)
        else:
            yield layer


def count_flops(model) -> float:
    """Forward FLOPs for one image (a multiply-add counts 2), from the conv and dense layers' shapes.

    Convolutions dominate these networks; BatchNorm, activations and concatenations are not counted.
    """
    import keras

    total = 0.0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2.0 * h * w * c * kh * kw
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, cin = layer.input.shape
            kh, kw = layer.kernel_size
            total += 2.0 * h * w * cin * kh * kw * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, cout = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += 2.0 * h * w * cout * kh * kw * cin / layer.groups
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * layer.input.shape[-1] * layer.units
    return total


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    """The machine's float32 matmul throughput (a large ``tf.matmul``), in GFLOP/s: the roofline to compare to."""
    import tensorflow as tf

    a = tf.random.normal([n, n], seed=1)
    b = tf.random.normal([n, n], seed=2)
    mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    ms, _ = median_ms(lambda: mm().numpy(), repeats, warmup=2)
    return 2.0 * n ** 3 / (ms / 1000) / 1e9


# ------------------------------------------------------------------------------------------------ results
@dataclass
class Target:
    """``value`` must be ``<=`` (or ``>=``) ``limit``; a miss by more than TOLERANCE is a regression."""

    name: str
    value: float
    limit: float
    op: str = "<="
    unit: str = ""
    gate: bool = True  # False: reported, but not a regression (an efficiency goal with a written account)

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    @property
    def regression(self) -> bool:
        if not self.gate:
            return False
        if self.op == "<=":
            return self.value > self.limit * (1 + TOLERANCE)
        return self.value < self.limit * (1 - TOLERANCE)

    def row(self) -> str:
        state = "met" if self.met else ("**missed (>20 %)**" if self.regression else "missed (within 20 %)")
        if not self.gate and not self.met:
            state = "missed (reported, see README)"
        return f"| {self.name} | {fmt(self.value)} {self.unit} | {self.op} {fmt(self.limit)} {self.unit} | {state} |"


@dataclass
class Section:
    name: str
    tables: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table(self, header: list[str], rows: list[list]) -> None:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
        self.tables.append("\n".join(lines))

    def markdown(self) -> str:
        parts = [f"### {self.name}"] + self.tables + [f"- {n}" for n in self.notes]
        return "\n\n".join(parts)

    def to_json(self) -> dict:
        return {"data": self.data, "targets": [asdict(t) | {"met": t.met, "regression": t.regression}
                                               for t in self.targets], "notes": self.notes}


def fmt(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}"
    return str(v)


def machine() -> dict:
    import platform

    import tensorflow as tf

    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1), "python": platform.python_version(),
            "tensorflow": tf.__version__, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
