"""``python -m logwriter.importers``: see `logwriter.importers.entry`."""

from logwriter.importers.entry import main

raise SystemExit(main())
