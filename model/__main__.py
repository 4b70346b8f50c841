"""``python -m model list [KIND [CHAPTER]] [--json]``: see :mod:`model.listing`."""

from model.listing import main

raise SystemExit(main())
