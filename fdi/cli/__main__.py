"""`python -m fdi.cli`: the same as the `fdi` command."""

from fdi.cli import main

main()
