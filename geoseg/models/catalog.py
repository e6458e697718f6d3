"""The catalog of published road models and ``geoseg models pull``.

The catalog ships with geoseg (``geoseg/models/catalog.yaml``); ``$GEOSEG_CATALOG`` (or
the `catalog` argument) points at another YAML file of the same shape, e.g. a mirror on
a private network.  :func:`pull` fetches an entry's weights (or takes ``from_file``, a
file downloaded by hand), checks their sha256, imports them
(:mod:`geoseg.models.importers`) and stores the checkpoint in the models directory under
the name ``geoseg predict --backbone`` looks for.  Nothing is left in the models
directory unless the whole chain succeeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

from geoseg import __version__
from geoseg.checkpoint import checkpoint_name, default_models_dir
from geoseg.errors import CheckpointError, ConfigError, DownloadError
from geoseg.io.files import ensure_writable_dir
from geoseg.models.importers import import_weights, sha256_file

log = logging.getLogger(__name__)

CATALOG_ENV = "GEOSEG_CATALOG"
CONNECT_TIMEOUT_S = 15.0
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    arch: str
    backbone: str
    format: str
    url: str | None
    sha256: str | None
    licence: str
    training_data: str
    gsd_m: float | None
    bands: str
    reported: str
    file: str | None = None
    member: str | None = None
    page: str | None = None


def catalog_path(catalog: str | Path | None = None) -> Path:
    if catalog is not None:
        return Path(catalog)
    env = os.environ.get(CATALOG_ENV)
    return Path(env).expanduser() if env else Path(__file__).with_name("catalog.yaml")


def load_catalog(catalog: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Entries by name from `catalog` (default ``$GEOSEG_CATALOG`` or the packaged one)."""
    path = catalog_path(catalog)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the model catalog ({exc.strerror or exc})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: model catalog is not valid YAML ({problem}{where})") from None
    rows = data.get("models") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ConfigError(f"{path}: model catalog needs a top-level 'models' list")
    fields = set(CatalogEntry.__dataclass_fields__)
    entries = {}
    for row in rows:
        if not isinstance(row, dict) or "name" not in row:
            raise ConfigError(f"{path}: every catalog entry needs a name")
        unknown = sorted(set(row) - fields)
        if unknown:
            raise ConfigError(
                f"{path}: catalog entry {row['name']!r} has unknown field {unknown[0]!r}"
            )
        try:
            entry = CatalogEntry(**row)
        except TypeError as exc:
            raise ConfigError(
                f"{path}: catalog entry {row['name']!r} is incomplete ({exc})"
            ) from None
        if entry.sha256 is not None and not _HEX.match(str(entry.sha256).lower()):
            raise ConfigError(f"{path}: catalog entry {entry.name!r}: sha256 is not 64 hex digits")
        entries[entry.name] = entry
    return entries


def get_entry(name: str, catalog: str | Path | None = None) -> CatalogEntry:
    entries = load_catalog(catalog)
    if name not in entries:
        raise ConfigError(
            f"unknown model {name!r}: the catalog has {', '.join(sorted(entries)) or 'no entries'}"
            " (geoseg models --available)"
        )
    return entries[name]


def _check_hex(sha256: str) -> str:
    value = sha256.strip().lower()
    if not _HEX.match(value):
        raise ConfigError(f"--sha256 must be 64 hexadecimal digits, got {sha256!r}")
    return value


def download(
    url: str, dest: Path, *, timeout: float = CONNECT_TIMEOUT_S, progress: bool | None = None
) -> str:
    """Stream `url` into `dest` with a progress bar; return the sha256 of the bytes.

    One attempt, no retries: an unreachable host fails at once with one sentence.
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"geoseg/{__version__}"})
    digest = hashlib.sha256()
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"{url}: cannot download ({reason}); without internet access, fetch the file on "
            "another machine and use --from FILE"
        ) from None
    total = response.headers.get("Content-Length")
    bar = tqdm(
        total=int(total) if total and total.isdigit() else None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=Path(dest).name.lstrip("."),
        disable=None if progress is None else not progress,
    )
    received = 0
    try:
        with response, open(dest, "wb") as out, bar:
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except OSError as exc:
        raise DownloadError(f"{url}: download interrupted ({exc})") from None
    if total and total.isdigit() and received != int(total):
        raise DownloadError(f"{url}: download incomplete ({received} of {total} bytes)")
    return digest.hexdigest()


def _weights_file(path: Path, entry: CatalogEntry, workdir: Path) -> Path:
    """The weights inside `path`: the file itself (torch's own format may be a zip too),
    or `entry.member` of a zip archive (a shared folder served as a zip)."""
    if not zipfile.is_zipfile(path):
        return path
    member = entry.member
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            match = [n for n in names if member and (n == member or n.endswith("/" + member))]
            if not match:
                if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
                    return path  # a torch.save file (zip serialisation), not an archive
                raise DownloadError(
                    f"{path.name}: the archive has no {member or 'weights file'} "
                    f"(it holds {', '.join(names[:5]) or 'nothing'})"
                )
            out = workdir / f"member-{Path(match[0]).name}"
            with archive.open(match[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{path.name}: corrupt zip archive ({exc})") from None
    return out


def unique_checkpoint_path(models_dir: Path, arch: str, backbone: str) -> Path:
    """``<arch>_<backbone>_<timestamp>.pt`` in `models_dir`, never an existing file."""
    path = models_dir / checkpoint_name(arch, backbone)
    stem, n = path.stem, 2
    while path.exists():
        path = models_dir / f"{stem}~{n}.pt"
        n += 1
    return path


def pull(
    name: str,
    *,
    from_file: str | Path | None = None,
    sha256: str | None = None,
    models_dir: str | Path | None = None,
    catalog: str | Path | None = None,
    progress: bool | None = None,
    timeout: float = CONNECT_TIMEOUT_S,
) -> Path:
    """Fetch (or take `from_file`), verify, import and store catalog entry `name`.

    `sha256` overrides the catalog's hash; where the catalog has none, a download needs
    one (a hand-downloaded `from_file` is accepted and its hash logged).  Returns the
    stored checkpoint's path.
    """
    entry = get_entry(name, catalog)
    expected = _check_hex(sha256) if sha256 else (entry.sha256.lower() if entry.sha256 else None)
    folder = Path(models_dir) if models_dir else default_models_dir()
    created = not folder.exists()  # a failed pull leaves no empty models folder behind
    if from_file is None:
        if not entry.url:
            raise ConfigError(
                f"{name}: the catalog gives no download link; see {entry.page} and use --from FILE"
            )
        if expected is None:
            raise ConfigError(
                f"{name}: the publisher gives no sha256, so a download cannot be verified: pass "
                "--sha256 HEX (a hash you trust) or --from FILE (downloaded by hand from "
                f"{entry.page or entry.url})"
            )
    elif not Path(from_file).is_file():
        raise CheckpointError(f"{from_file}: file not found")

    folder = ensure_writable_dir(folder)
    workdir = Path(tempfile.mkdtemp(prefix=".geoseg-pull-", dir=folder))
    try:
        if from_file is None:
            raw = workdir / "download.partial"
            assert entry.url  # a download without one was refused above
            log.info("downloading %s from %s", name, entry.url)
            download(entry.url, raw, timeout=timeout, progress=progress)
        else:
            raw = Path(from_file)
        weights = _weights_file(raw, entry, workdir)
        actual = sha256_file(weights)
        if expected is not None and actual != expected:
            raise DownloadError(
                f"{weights.name if from_file is None else weights}: sha256 mismatch "
                f"(expected {expected}, got {actual}); nothing was stored"
            )
        if expected is None:
            log.warning(
                "%s: sha256 %s (the publisher gives none to check against)", weights, actual
            )
        info = {
            "catalog": entry.name,
            "url": entry.url,
            "licence": entry.licence,
            "training_data": entry.training_data,
            "gsd_m": entry.gsd_m,
            "reported": entry.reported,
            "verified_sha256": expected is not None,
        }
        ckpt = import_weights(weights, entry.format, backbone=entry.backbone, source_info=info)
        ckpt.source = {
            **(ckpt.source or {}),
            "file": entry.file or Path(weights.name).name.removeprefix("member-"),
        }
        if (ckpt.arch, ckpt.backbone) != (entry.arch, entry.backbone):
            raise CheckpointError(
                f"{name}: the weights are a {ckpt.arch}/{ckpt.backbone} model, "
                f"not {entry.arch}/{entry.backbone} as the catalog says"
            )
        return ckpt.save(unique_checkpoint_path(folder, entry.arch, entry.backbone))
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: nothing was stored


def describe(entry: CatalogEntry) -> list[str]:
    """Lines for ``geoseg models --available``."""
    sha = entry.sha256 or "none published (pull needs --sha256 HEX or --from FILE)"
    gsd = f"{entry.gsd_m:g} m" if entry.gsd_m else "not stated"
    return [
        f"{entry.name}  ({entry.arch}/{entry.backbone}, import format {entry.format})",
        f"  url:           {entry.url or 'none'}",
        *([f"  page:          {entry.page}"] if entry.page else []),
        f"  sha256:        {sha}",
        f"  licence:       {entry.licence}",
        f"  training data: {entry.training_data}",
        f"  GSD:           {gsd}",
        f"  bands:         {entry.bands}",
        f"  reported:      {entry.reported}",
    ]


def catalog_rows(catalog: str | Path | None = None) -> list[dict[str, Any]]:
    """The catalog as plain dicts (for scripts and tests)."""
    return [asdict(e) for e in load_catalog(catalog).values()]
