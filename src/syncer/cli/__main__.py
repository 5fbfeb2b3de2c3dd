"""``python -m syncer.cli``: the same as the ``runwal`` console script."""

from syncer.cli.main import main

main()
