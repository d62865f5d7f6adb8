"""Settings and small helpers that every tab shares: queue groups, example files, missing-model notices."""

from __future__ import annotations

import gradio as gr

from .inputs import EXAMPLES_DIR
from .model_zoo import ModelZoo

#: Queue: at most this many jobs wait; each group of events runs this many at once. The pad has a group of its
#: own, so a stroke never waits behind photos or uploaded drawings.
QUEUE_SIZE = 200
CONCURRENCY = {"pad": 2, "sketch": 2, "photo": 2, "compare": 2}


def group(name: str) -> dict:
    """The queue settings of an event in concurrency group ``name``."""
    return dict(concurrency_id=name, concurrency_limit=CONCURRENCY[name])


def examples(sub: str, names: list[str]) -> list[str]:
    return [str(EXAMPLES_DIR / sub / n) for n in names if (EXAMPLES_DIR / sub / n).exists()]


def notice_or_none(zoo: ModelZoo, tasks) -> str | None:
    missing = [t for t in tasks if zoo.main(t) is None]
    if not missing:
        return None
    return "\n\n".join("⚠️ " + zoo.notice(t) for t in missing)


def notice_box(text: str, elem_id: str) -> gr.Markdown:
    return gr.Markdown(text, elem_classes=["p2p-notice"], container=True, padding=True, elem_id=elem_id)
