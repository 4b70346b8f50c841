"""``python -m model.serving predict ...``: the command line of :mod:`model.serving.cli`."""

from model.serving.cli import main

raise SystemExit(main())
