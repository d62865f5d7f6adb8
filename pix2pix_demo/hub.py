"""The Hugging Face Hub: ``hf://owner/repo[@revision]`` weights, and ``hub push`` of a model folder.

Uses ``huggingface_hub.snapshot_download`` and ``HfApi.upload_folder`` (huggingface_hub 2.x has no Keras mixins).
A downloaded folder is checked like any other when it loads (``export.load_model``): its ``config.json`` records
the size and sha256 of each weights file. ``push`` refuses a damaged folder and adds a missing fingerprint of
``model.safetensors`` to what it uploads.
With ``HF_HUB_OFFLINE=1`` only the local cache is used; a model that is not there fails at once, naming the repo.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .export import CONFIG, WEIGHTS, check_fingerprint, read_config, read_metrics, record_fingerprint


class HubError(RuntimeError):
    """A Hub download or upload that failed, with the repo and the fix in the message."""


def parse_uri(uri: str) -> tuple[str, str | None]:
    """``hf://owner/repo@rev`` → (``owner/repo``, ``rev``)."""
    if not uri.startswith("hf://"):
        raise HubError(f"{uri!r} is not a Hub address; write hf://owner/repo or hf://owner/repo@revision.")
    repo, _, revision = uri[len("hf://"):].partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise HubError(f"{uri!r}: the repo must be owner/name, as in hf://owner/name@main.")
    return repo, revision or None


def download(uri: str) -> Path:
    """Download (or find in the cache) the snapshot of ``uri`` and return its local folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    repo, revision = parse_uri(uri)
    where = f"{repo}@{revision or 'main'}"
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    try:
        return Path(snapshot_download(repo, revision=revision, local_files_only=offline))
    except LocalEntryNotFoundError:
        raise HubError(f"{where} is not in the local Hugging Face cache and the Hub cannot be reached"
                       f"{' (HF_HUB_OFFLINE=1)' if offline else ''}. Fix: run once online (unset HF_HUB_OFFLINE) to "
                       f"download it, or pass a local folder with --weights.") from None
    except RepositoryNotFoundError:
        raise HubError(f"The Hub repo {repo} does not exist or is private. Fix: check the name, or log in with "
                       f"`hf auth login` for a private repo.") from None
    except RevisionNotFoundError:
        raise HubError(f"The Hub repo {repo} has no revision {revision!r}. Fix: use a branch, tag or commit "
                       f"that exists.") from None
    except (HfHubHTTPError, OSError) as err:
        raise HubError(f"Could not download {where} from the Hub: {err}. Fix: check the network, or pass a "
                       f"local folder with --weights.") from None


def model_card(folder) -> str:
    """A Hugging Face model card for one model folder, from its config and metrics."""
    folder = Path(folder)
    config, metrics = read_config(folder), read_metrics(folder)
    g = config["generator"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    return f"""---
library_name: keras
pipeline_tag: image-to-image
tags: [pix2pix, image-to-image, gan, {config['task']}]
---

# pix2pix {config['task']} — {g['arch']}

A pix2pix generator ({g['arch']}, {g['image_size']} px, {g['in_channels']}→{g['out_channels']} channels) made with
pix2pix studio. Load it with:

```python
import pix2pix_demo
translate = pix2pix_demo.load("{config['task']}", "{g['arch']}", weights="hf://OWNER/REPO")
picture = translate("input.png")
```

## Metrics (validation split)

| metric | value |
|---|---|
{rows}

## Architecture

```json
{json.dumps(g, indent=2)}
```
"""


def push(folder, repo_id: str, private: bool = False, revision: str | None = None,
         commit_message: str = "Upload pix2pix model") -> str:
    """Upload a model folder and a generated model card to ``repo_id``; return the commit URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise HubError(f"{folder} is not a model folder ({CONFIG} is missing).")
    config = read_config(folder)  # a damaged folder is refused (WeightsError) before anything is uploaded
    for name in config.get("files", {}):
        check_fingerprint(folder, name, config)
    api = HfApi()
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        shutil.copytree(folder, staged)
        if WEIGHTS not in config.get("files", {}) and (staged / WEIGHTS).exists():
            record_fingerprint(staged, WEIGHTS)  # an older folder: let its downloads check the weights
        if not (staged / "README.md").exists():
            (staged / "README.md").write_text(model_card(folder))
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.upload_folder(folder_path=str(staged), repo_id=repo_id, revision=revision,
                                     commit_message=commit_message)
        except Exception as err:  # the Hub client raises many types; all mean the same to the user
            raise HubError(f"Could not upload {folder} to {repo_id}: {err}. Fix: log in with `hf auth login` "
                           f"(a write token) and check the network.") from None
    return str(getattr(info, "commit_url", info))
