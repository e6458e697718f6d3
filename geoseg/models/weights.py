"""Where an encoder's pretrained weights come from: ``none``, ``imagenet`` or a file.

``imagenet`` weights are downloaded by timm (Hugging Face Hub or a release URL) and
cached.  timm and huggingface_hub retry a failing download for about a minute before
they give up, so before asking timm for weights that are not cached yet, geoseg checks
once that the download host answers within :data:`CONNECT_DEADLINE_S` seconds (DNS
included, in a thread so a hanging resolver cannot stretch it) and fails at once with
one sentence when it does not.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from geoseg.errors import ModelError

CONNECT_DEADLINE_S = 3.0
NONE_WORDS = ("none", "null", "")


def parse_encoder_weights(value: str | None) -> str | None:
    """``--encoder-weights`` value -> the config's ``model.encoder_weights``
    (``none``/``null`` -> None, ``imagenet`` and paths unchanged)."""
    if value is None or str(value).strip().lower() in NONE_WORDS:
        return None
    return str(value)


def _pretrained_cfg(timm_name: str):
    from timm.models import get_pretrained_cfg  # lazy: torch

    return get_pretrained_cfg(timm_name)


def weights_source(timm_name: str) -> tuple[str | None, str | None]:
    """(hf_hub_id, url) timm downloads `timm_name`'s default weights from."""
    cfg = _pretrained_cfg(timm_name)
    if cfg is None:
        return None, None
    return getattr(cfg, "hf_hub_id", None) or None, getattr(cfg, "url", None) or None


def weights_cached(timm_name: str) -> bool:
    """True when timm will find `timm_name`'s ImageNet weights without the network."""
    hub_id, url = weights_source(timm_name)
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache  # optional dependency
        except ImportError:  # pragma: no cover - timm depends on huggingface_hub
            pass
        else:
            repo = hub_id.split("#")[0]
            for filename in (
                "model.safetensors",
                "pytorch_model.bin",
                "open_clip_pytorch_model.bin",
            ):
                found = try_to_load_from_cache(repo, filename)
                if isinstance(found, str) and Path(found).is_file():
                    return True
    if url:
        import torch.hub  # lazy: torch takes seconds to load

        if (Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name).is_file():
            return True
    return False


def download_host(timm_name: str) -> tuple[str, int]:
    """(host, port) the download starts with: a configured HTTPS proxy, else the hub or URL."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        p = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or proxy, p.port or 8080
    hub_id, url = weights_source(timm_name)
    if hub_id or not url:
        endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
        return endpoint.hostname or "huggingface.co", endpoint.port or 443
    u = urlparse(url)
    return u.hostname or url, u.port or (443 if u.scheme == "https" else 80)


def reachable(host: str, port: int, deadline_s: float = CONNECT_DEADLINE_S) -> str | None:
    """None when a TCP connection to host:port opens within `deadline_s`, else the reason."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=deadline_s).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc.strerror or type(exc).__name__)

    worker = threading.Thread(target=attempt, daemon=True, name="geoseg-weights-probe")
    worker.start()
    worker.join(deadline_s)
    if not outcome:
        return f"no answer within {deadline_s:g} s"
    return outcome[0]


def check_imagenet_download(timm_name: str, deadline_s: float = CONNECT_DEADLINE_S) -> None:
    """ModelError at once when `timm_name`'s ImageNet weights are not cached and their
    download host does not answer within `deadline_s` seconds."""
    if weights_cached(timm_name):
        return
    host, port = download_host(timm_name)
    problem = reachable(host, port, deadline_s)
    if problem is not None:
        raise ModelError(
            f"ImageNet weights for {timm_name} are not cached and {host} cannot be reached "
            f"({problem}); train from scratch with --encoder-weights none "
            "(model.encoder_weights: null), or give a weights file with --encoder-weights FILE"
        )
