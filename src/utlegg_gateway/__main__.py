"""Allow `python -m utlegg_gateway`."""

from utlegg_gateway.cli import main

main()
