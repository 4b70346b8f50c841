"""``python -m model.kv``: the KV-cache command line (:mod:`model.kv.cli`)."""
from model.kv.cli import main

raise SystemExit(main())
