"""``python -m model.tiering replay TRACE ...``: see :mod:`model.tiering.cli`."""

from model.tiering.cli import main

raise SystemExit(main())
