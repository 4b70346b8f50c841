"""model.book.phrases.distserve_texts: the DistServe section's sentences follow the comparison's numbers."""
import pandas as pd

from model.book.phrases import distserve_texts


def _comparison(sim: dict, pub: dict) -> pd.DataFrame:
    rows = []
    for q in sim:
        rows.append({"quantity": q, "simulated": sim[q], "published": pub.get(q, float("nan")),
                     "simulated_over_published": sim[q] / pub[q] if q in pub else float("nan")})
    return pd.DataFrame(rows)


PUB = {"prefill_only_rate": 2.0, "decode_only_rate": 4.0, "colocated_tpot_rate": 2.0, "goodput_gain": 2.0}


def test_decode_bound_and_a_smaller_gain_by_hand():
    sim = {"colocated_goodput_per_gpu": 1.234, "disaggregated_goodput_per_gpu": 1.851, "goodput_gain": 1.5,
           "prefill_only_rate": 4.2, "decode_only_rate": 8.0, "colocated_tpot_rate": 2.0}
    t = distserve_texts(_comparison(sim, PUB), prefill_s=0.0954, decode_s=0.0231)
    assert t["ds_coloc"] == "1.2" and t["ds_disagg"] == "1.9"
    assert t["ds_prefill_ms"] == "95" and t["ds_decode_ms"] == "23"
    # colocated share: 2 / 8 = 25% simulated against 2 / 4 = 50% published
    assert t["ds_share_sim"] == "25" and t["ds_share_pub"] == "50"
    # 2 x 4.2 >= 8: the two prefill GPUs outrun the decode GPU
    assert t["ds_bound"].startswith("by its decode GPU, as in the source")
    assert t["ds_gain_lead"] == "The gain differs because of the colocated GPU"
    # single-phase factors 4.2/2 = 2.1 and 8/4 = 2.0: 5% apart; the shares differ 2x, more than that
    assert t["ds_factor"].startswith("The two single-phase factors lie within 5% of each other")
    # the simulated colocated GPU keeps 25% of a decode GPU's rate against 50%: it loses more
    assert t["ds_share_cmp"] == "more"


def test_prefill_bound_and_the_same_gain():
    sim = {"colocated_goodput_per_gpu": 1.0, "disaggregated_goodput_per_gpu": 2.0, "goodput_gain": 2.0,
           "prefill_only_rate": 2.0, "decode_only_rate": 8.0, "colocated_tpot_rate": 4.0}
    t = distserve_texts(_comparison(sim, PUB), prefill_s=0.1, decode_s=0.02)
    assert t["ds_bound"].startswith("by its two prefill GPUs")                    # 2 x 2 < 8
    assert t["ds_gain_lead"] == "The gains agree; what sets them is the colocated GPU"
    # factors 1.0 and 2.0 (spread 2x) against shares 50% and 50%: the step times may explain it
    assert t["ds_factor"].startswith("The two single-phase factors differ as much as the colocated shares")
    assert t["ds_share_cmp"] == "as much"
