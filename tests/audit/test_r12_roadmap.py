from model.audit import r12_roadmap


def test_roadmap_rows():
    a = r12_roadmap.table().set_index("claim_id")
    assert len(a) == 10
    # chosen horizons and the latency target are given; forecasts are not reproducible
    given = ["r12.short_term.horizon", "r12.mid_term.horizon", "r12.long_term.horizon", "r12.realtime_voice.latency_max"]
    assert (a.loc[given, "verdict"] == "given").all()
    assert list(a.loc[given, "role"]) == ["interval"] * 3 + ["threshold"]
    assert (a.drop(given)["verdict"] == "not reproducible").all() and (a.drop(given)["role"] == "forecast").all()
