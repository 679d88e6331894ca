"""python -m chaindb: the same as the `chaindb` command."""

from chaindb.cli import main

main()
