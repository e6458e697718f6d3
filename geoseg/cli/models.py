"""`geoseg models`: the architectures and backbones, with measured size and cost."""

from __future__ import annotations

import click
from tqdm import tqdm


@click.command("models")
@click.option("--arch", "archs", multiple=True, help="Only this architecture (repeatable).")
@click.option(
    "--backbone", "backbones", multiple=True,
    help="Backbone alias or any timm name (repeatable); default: the seed backbones.",
)
@click.option("--size", default=1024, show_default=True, type=click.IntRange(32),
              help="Square input side for the GFLOPs column.")
def models(archs: tuple[str, ...], backbones: tuple[str, ...], size: int) -> None:
    """List architectures x backbones with parameter counts and measured GFLOPs."""
    from geoseg.models import BACKBONE_ALIASES, list_archs
    from geoseg.models.summary import iter_model_table

    archs = archs or tuple(list_archs())
    backbones = backbones or tuple(BACKBONE_ALIASES)
    rows = list(tqdm(iter_model_table(archs, backbones, size), total=len(archs) * len(backbones),
                     desc="measuring", unit="model", leave=False, disable=None))
    header = ("arch", "backbone", "timm encoder", "params (M)", f"GFLOPs @{size}²")
    table = [(r.arch, r.backbone, r.timm_name, f"{r.params / 1e6:.2f}", f"{r.gflops:.1f}")
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths[:3]))
        click.echo(left + "  " + "  ".join(c.rjust(w) for c, w in zip(row[3:], widths[3:])))
    aliases = ", ".join(k if k == v else f"{k} ({v})" for k, v in BACKBONE_ALIASES.items())
    click.echo(
        f"\nGFLOPs measured with torch FlopCounterMode (batch 1, eval; 1 multiply-add = 2 FLOPs); "
        f"params include AD-LinkNet's training-only auxiliary heads.\n"
        f"Backbones: {aliases}"
        "; any other timm model with features_only also works (e.g. --backbone efficientnet_b0)."
    )
