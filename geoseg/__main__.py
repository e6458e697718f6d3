"""`python -m geoseg` (also what torchrun runs: `torchrun ... -m geoseg train ...`)."""

from geoseg.cli.main import cli

if __name__ == "__main__":
    cli()
