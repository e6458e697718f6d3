"""`geoseg configs`: the configs shipped with geoseg, usable by name (`geoseg train -c NAME`)."""

from __future__ import annotations

import click

from geoseg.config import bundled_configs, load_config, resolve_config


@click.command("configs")
@click.argument("name", required=False)
def configs(name: str | None) -> None:
    """List the shipped configs (name, model, what it is), or print config NAME.

    \b
    geoseg configs                  # the list
    geoseg configs unet_vgg16 > my.yaml   # a copy to edit
    geoseg train -c unet_vgg16 --data-dir deepglobe/train
    """
    if name:
        click.echo(resolve_config(name).read_text(encoding="utf-8"), nl=False)
        return
    rows = []
    for stem, path in bundled_configs().items():
        cfg = load_config(path)
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        about = first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""
        rows.append(
            (
                stem,
                f"{cfg.model.arch}/{cfg.model.backbone}",
                str(cfg.model.encoder_weights or "none"),
                about,
            )
        )
    header = ("name", "model", "encoder weights", "about")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for r in [header, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[3])
    folder = next(iter(bundled_configs().values())).parent if rows else None
    click.echo(
        f"\nin {folder}; use one with -c NAME, or copy it (geoseg configs NAME > my.yaml) "
        "and pass -c my.yaml"
    )
