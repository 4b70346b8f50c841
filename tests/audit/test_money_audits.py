"""The economics and fleet chapters' audits: pinned to the source (no parameters, identical tables), each
claim once, and the verdicts that follow from independent arithmetic."""

import inspect

import pandas as pd
import pytest

from model.audit import l10_availability, l11_fleet, r12_roadmap, t2_api_costs, t6_regions, t9_costs, t12_summary
from model.audit.claims import load_claims

ECONOMICS = (t2_api_costs, t9_costs, t12_summary, r12_roadmap)
FLEET = (t6_regions, l10_availability, l11_fleet)


@pytest.mark.parametrize("module", ECONOMICS + FLEET, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_pinned_to_the_source(module):
    assert not inspect.signature(module.computed).parameters
    assert not inspect.signature(module.table).parameters
    a, b = module.table(), module.table()
    pd.testing.assert_frame_equal(a, b)
    assert not a["read_back"].any() or (a.loc[a["read_back"], "verdict"] == "given").all()


@pytest.mark.parametrize("modules, prefixes", [(ECONOMICS, ("t2.", "t9.", "r12.")), (FLEET, ("t6.", "l10.", "l11."))])
def test_each_claim_once_and_tables_covered(modules, prefixes):
    ids = pd.concat([m.table() for m in modules])["claim_id"]
    assert ids.is_unique
    claims = load_claims(source="case_study")["claim_id"]
    for prefix in prefixes:
        assert {c for c in claims if c.startswith(prefix)} <= set(ids)


def test_chapters_do_not_share_claims():
    econ = set(pd.concat([m.table() for m in ECONOMICS])["claim_id"])
    fleet = set(pd.concat([m.table() for m in FLEET])["claim_id"])
    assert not econ & fleet
