"""The stated figures of data/claims looked up in a dict, for the audit's hand-worked mutant tests: ``claim`` is a
stand-in for :func:`model.audit.claims.claim` (the same rows and the same refusal of an unknown id) that skips the
per-call lookup, so that a test file can replace the real one with ``monkeypatch.setattr(C, "claim", claim)``."""
from model.audit import claims as C
from model.checks import ParameterError

ROWS = C._all_claims().set_index("claim_id", drop=False).to_dict("index")


def claim(cid):
    if cid not in ROWS:
        raise ParameterError("claim_id", cid, "an id present in data/claims/*.csv")
    return ROWS[cid]
