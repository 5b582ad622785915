"""Entry point of the ``hlmm`` command."""
import click

from hlmm import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hlmm")
def cli() -> None:
    """hlmm: a market maker for Hyperliquid perpetuals."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
