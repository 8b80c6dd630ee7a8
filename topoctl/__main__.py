"""`python -m topoctl`: the same as the `topoctl` command."""

from topoctl.cli import main

main()
