"""The glossary's two lists (model/metrics.py): every metric and every concept defined once, with a definition
(and, for a concept, a source); the concepts the chapters rely on are all there."""

from model.metrics import CONCEPTS, METRICS, concepts, glossary

REQUIRED = ["GQA", "Tensor parallelism", "MFU", "MBU", "Prefill and decode", "TTFT and TPOT", "TTL",
            "LRU stack distance", "Pareto front", "Hypervolume", "Che approximation", "Little's law", "Roofline"]


def test_every_required_concept_is_defined_with_a_source():
    terms = list(CONCEPTS)
    for word in REQUIRED:
        hits = [t for t in terms if t.startswith(word)]
        assert len(hits) == 1, f"{word!r}: {hits}"
    for c in CONCEPTS.values():
        assert len(c.definition) > 40 and c.definition.endswith((".", ")")), c.term
        assert len(c.source) > 10, c.term
        assert "\n" not in c.definition


def test_tables_are_sorted_and_complete():
    df = concepts()
    assert list(df.columns) == ["term", "definition", "source"] and len(df) == len(CONCEPTS)
    assert list(df["term"]) == sorted(df["term"], key=str.lower)
    g = glossary()
    assert len(g) == len(METRICS) and list(g["metric"]) == sorted(g["metric"])


def test_stated_downtime_of_the_nines_concept():
    """The availability concept's figures follow from (1 − availability) × 8,760 h."""
    text = CONCEPTS["Availability ('nines')"].definition
    assert f"{(1 - 0.9995) * 8760:.2f} hours" in text and f"{(1 - 0.999) * 8760:.2f} hours" in text
    gib = CONCEPTS["GB and GiB"].definition
    assert f"{100 * (2 ** 30 / 1e9 - 1):.1f}%" in gib
