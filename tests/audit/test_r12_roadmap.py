from model.audit import r12_roadmap


def test_roadmap_rows():
    a = r12_roadmap.table().set_index("claim_id")
    assert len(a) == 10
    assert a.loc["r12.realtime_voice.latency_max", "verdict"] == "consistent"  # 500 ms >= GPT-4o's 320 ms
    assert (a.drop("r12.realtime_voice.latency_max")["verdict"] == "not reproducible").all()
