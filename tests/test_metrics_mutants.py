"""model.metrics by hand: the glossary's two tables built from short lists written here, whose sorted order is
worked out by hand (metric names in code-point order; concept terms ignoring case, as str.lower orders them)."""
import model.metrics as metrics
from model.metrics import Concept, Metric


def test_glossary_columns_order_and_index(monkeypatch):
    monkeypatch.setattr(metrics, "_METRICS", [Metric("ttft_s", "s", "first token"),
                                              Metric("hit_ratio", "fraction", "hits"),
                                              Metric("kv_bytes_per_token", "bytes", "bytes")])
    g = metrics.glossary()
    assert list(g.columns) == ["metric", "unit", "definition"]
    # h < k < t
    assert g.to_dict("list") == {"metric": ["hit_ratio", "kv_bytes_per_token", "ttft_s"],
                                 "unit": ["fraction", "bytes", "s"], "definition": ["hits", "bytes", "first token"]}
    assert list(g.index) == [0, 1, 2]


def test_concepts_sorted_ignoring_case(monkeypatch):
    # lower-cased: "a_b" < "ab" < "az" < "b" ('_' is code point 95, below 'b' and 'z'); sorting upper-cased
    # instead would put "AZ" (Z = 90) before "A_B"; a plain sort would put "Ab" and "B" before "a_b"
    monkeypatch.setattr(metrics, "_CONCEPTS", [Concept("B", "d1", "s1"), Concept("az", "d2", "s2"),
                                               Concept("a_b", "d3", "s3"), Concept("Ab", "d4", "s4")])
    c = metrics.concepts()
    assert list(c.columns) == ["term", "definition", "source"]
    assert c.to_dict("list") == {"term": ["a_b", "Ab", "az", "B"], "definition": ["d3", "d4", "d2", "d1"],
                                 "source": ["s3", "s4", "s2", "s1"]}
    assert list(c.index) == [0, 1, 2, 3]
