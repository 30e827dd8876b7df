"""``surgeguard info``: describe a network."""

from __future__ import annotations

import typer

from .loaders import load_network

app = typer.Typer()


@app.command()
def info(network: str = typer.Option(..., "--network", "-n", help="topology file or topohub key")):
    """Describe a network: nodes, links, capacities and where they came from."""
    net = load_network(network)
    typer.echo(net.describe())
    typer.echo(f"capacity source: {net.meta.get('capacity_source', 'given')}")
