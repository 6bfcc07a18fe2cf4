"""``python -m toolvolley``: the command line."""

from ._cli import main

main()
