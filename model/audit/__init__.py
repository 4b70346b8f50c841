"""The audit of the source documents: every stated figure computed from the inputs the source states,
beside the stated figure, with a verdict. It calls the model at the source's own setting and never reads
a chapter's parameters; nothing in the model imports it.

``claims``
    the stated figures (``data/claims/``) as tracked numbers.
``verdicts``
    :class:`Computed`, the verdicts, tolerances and the audit table.

One module per source section or table group holds the figures of that part of the sources; each exposes
``computed() -> list[Computed]`` and ``table() -> pandas.DataFrame``.
"""

from model.audit.claims import claim, load_claims, stated_value
from model.audit.verdicts import (CHECKED_VERDICTS, DEFAULT_TOLERANCE, GIVEN, VERDICTS, Computed, audit,
                                  format_audit, verdict_counts, verdict_for)

__all__ = ["CHECKED_VERDICTS", "DEFAULT_TOLERANCE", "GIVEN", "VERDICTS", "Computed", "audit", "claim",
           "format_audit", "load_claims", "stated_value", "verdict_counts", "verdict_for"]
