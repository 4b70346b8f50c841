"""model.book.charts: the persona and memory chapter's cost chart."""
import pandas as pd

from model.book.charts import persona_cost_chart


def test_persona_cost_chart_points_and_labels():
    costs = pd.DataFrame({"basis": ["API", "GPU"], "volume": ["light", "busy"],
                          "usd_per_month_before": [1e6, 3e6], "usd_per_month_after": [2e5, 6e5]})
    chart = persona_cost_chart(costs, tokens_before=10_000, tokens_after=2_000)
    assert len(chart.data) == 4
    assert sorted(set(chart.data["persona"])) == ["10,000 tokens (before)", "2,000 tokens (after)"]
    assert chart.title == "Persona cost a month, 10,000 and 2,000 tokens with every request"
    assert chart.to_dict()["encoding"]["x"]["axis"]["values"] == [3e5, 1e6, 3e6]  # within 2e5 to 3e6
