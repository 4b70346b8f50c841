"""``python -m model.plan``: the planning command line (:mod:`model.plan.cli`)."""
from model.plan.cli import main

raise SystemExit(main())
