"""`python -m warroom` runs the CLI (the same as the `warroom` console script)."""

from warroom.cli import main

main()
