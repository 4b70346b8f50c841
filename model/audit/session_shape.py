"""Audit of the session shape the case study states in §1 (T1 service characteristics) and repeats in §3
(T3 problem): sessions of 30 minutes and 200 turns over a catalogue of 5M characters.

These figures are inputs of the study's character-chat workload (``data/parameters/workload.csv``), so a
trace generated from them cannot check them: 200 turns and 5M characters are ``given``. The one figure that
can be checked from other stated figures is the session length: a turn cannot be shorter than the response
time the case study states (T2, 2.2 s), so 200 turns last at least 200 × 2.2 s, before anyone reads or
types (a lower bound).

Computed at the source's stated figures only; it reads no chapter parameter.
"""

from __future__ import annotations

import pandas as pd

from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed


def computed() -> list[Computed]:
    """The four session-shape figures audited by the tiering chapter."""
    turns = stated_value("t1.s1_service.turns_per_session")
    latency_s = stated_value("t2.self_hosted.latency")
    minutes = stated_value("t1.s1_service.avg_session_length")
    floor_min = turns * latency_s / 60.0
    per_turn_s = minutes * 60.0 / turns
    # a turn lasts at least its response time whichever moment the latency ends at (first or last token)
    under = {("latency", a): Alt(floor_min) for a in R.other_readings("latency")}
    return [
        Computed("t1.s1_service.avg_session_length", floor_min, "min",
                 f"lower bound: {turns:.0f} turns (§1) × the {latency_s:.1f} s response (T2) = {floor_min:.1f} min "
                 f"with no time to read or type; the stated length leaves {per_turn_s - latency_s:.1f} s per turn "
                 f"for the user ({per_turn_s:.0f} s per turn − {latency_s:.1f} s response)",
                 kind="lower_bound", under=under,
                 holds_under="any reading of the stated latency (to the first token or to the last: a turn lasts at "
                             "least until it) and no time at all for the user to read or type"),
        Computed("t1.s1_service.turns_per_session", turns, "turns",
                 "input: the mean turns per session of the character-chat workload (chat_turns_per_session); a "
                 "trace generated with it cannot check it", role="input"),
        Computed("t1.s1_service.characters", stated_value("t1.s1_service.characters"), "count",
                 "input: the character catalogue the workload draws personas from (§1, and §7's 5M)",
                 role="input"),
        Computed("t3.problem.session_turns", stated_value("t1.s1_service.turns_per_session"), "turns",
                 "restatement of §1's 200 turns per session (t1.s1_service.turns_per_session)",
                 role="restatement", restates="t1.s1_service.turns_per_session"),
    ]


def user_seconds_per_turn() -> float:
    """Seconds per turn the stated session length leaves the user to read the reply and type the next
    message: 30 min × 60 / 200 turns − the 2.2 s response (T2)."""
    turns = stated_value("t1.s1_service.turns_per_session")
    return float(stated_value("t1.s1_service.avg_session_length") * 60.0 / turns
                 - stated_value("t2.self_hosted.latency"))


def table() -> pd.DataFrame:
    """The audit table of :func:`computed`, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
