"""The audit of the source documents: every stated figure computed from the inputs the source states,
beside the stated figure, with a verdict. It calls the model at the source's own setting and never reads
a chapter's parameters; nothing in the model imports it.

``claims``
    the stated figures (``data/claims/``) as tracked numbers.
``readings``
    the register of readings (``data/claims/readings.csv``): every quantity the sources leave ambiguous, its
    alternatives and the one the audit uses.
``rules``
    the audit's rules (``data/claims/rules.csv``): the default tolerance, the widest range that decides.
``verdicts``
    :class:`Computed`, the verdicts, their glossary and the audit table.
``whole``
    the rows of every section judged together (inputs carried through, readings checked across rows).

One module per source section or table group holds the figures of that part of the sources; each exposes
``computed() -> list[Computed]`` and ``table() -> pandas.DataFrame`` (its slice of :mod:`model.audit.whole`).
"""

from model.audit.claims import claim, load_claims, stated_value
from model.audit.verdicts import (CHECKED_VERDICTS, DEFAULT_TOLERANCE, GIVEN, INCONSISTENT_INPUTS,
                                  RANGE_DECISIVE_RATIO, ROLES, VERDICT_GLOSSARY, VERDICTS, Computed, audit,
                                  format_audit, verdict_counts, verdict_for, verdict_glossary)

__all__ = ["CHECKED_VERDICTS", "DEFAULT_TOLERANCE", "GIVEN", "INCONSISTENT_INPUTS", "RANGE_DECISIVE_RATIO", "ROLES",
           "VERDICT_GLOSSARY", "VERDICTS", "Computed", "audit", "claim", "format_audit", "load_claims",
           "stated_value", "verdict_counts", "verdict_for", "verdict_glossary"]
