"""Words of the chapters' computed sentences: ratios, capacities and hit-ratio differences as a reader says
them, and the sentences of the tier-configuration search (every word computed from the numbers, so the prose
follows the parameters). The model computes numbers; the sentences are built here."""

from __future__ import annotations

import math

from model.architectures import load_architecture
from model.book.glue import compare, times
from model.parameters import default


def ratio_verb(ratio: float) -> str:
    """What a quantity multiplied by ``ratio`` does, as an intransitive verb: ``"doubles"``, ``"triples"``,
    ``"quadruples"`` (within 10%), ``"barely changes"`` (within 2%), else ``"rises by 80%"`` or
    ``"falls by 20%"``."""
    if not math.isfinite(ratio):
        return "grows without bound"
    for target, word in ((2.0, "doubles"), (3.0, "triples"), (4.0, "quadruples")):
        if abs(ratio - target) <= 0.1 * target:
            return word
    if abs(ratio - 1) <= 0.02:
        return "barely changes"
    if ratio > 1:
        return f"rises by {100 * (ratio - 1):,.0f}%"
    return f"falls by {100 * (1 - ratio):.0f}%"


def join_and(items) -> str:
    """``["a"]`` → ``"a"``, ``["a", "b"]`` → ``"a and b"``, ``["a", "b", "c"]`` → ``"a, b and c"``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def as_many(ratio: float, noun: str = "requests") -> str:
    """``ratio`` of a quantity as "N times as many requests", "about a third more requests", "30% more
    requests", "about as many requests" (within 5%), "20% fewer requests"."""
    if not math.isfinite(ratio):
        return f"unboundedly more {noun}"
    if ratio >= 1.5:
        return f"{ratio:.2g} times as many {noun}"
    if abs(ratio - 1) <= 0.05:
        return f"about as many {noun}"
    for share, words in ((1 / 3, "a third"), (0.5 - 1e-9, "half"), (0.25, "a quarter")):
        if abs((ratio - 1) - share) <= 0.03:
            return f"about {words} more {noun}"
    if ratio > 1:
        return f"{100 * (ratio - 1):.0f}% more {noun}"
    return f"{100 * (1 - ratio):.0f}% fewer {noun}"


def capacity_text(gb: float) -> str:
    """A capacity in GB (1e9 bytes) as "256 GB", "1 TB", "7.7 TB", "3.3 PB" (3 significant digits)."""
    if not math.isfinite(gb):
        return "unbounded"
    for unit, scale in (("PB", 1e6), ("TB", 1e3)):
        if gb >= scale * 0.995:
            return f"{gb / scale:,.3g} {unit}"
    return f"{gb:,.3g} GB"


def points(difference: float) -> str:
    """A hit-ratio difference (fraction) in percentage points: "under one point", "1.5 points"."""
    p = 100 * abs(difference)
    if p < 1:
        return "under one point"
    return f"{p:.2g} points"


# --------------------------------------------------------------------------------------------------------
# The tier-configuration search (the Kareto chapter, model.search.tier_search), computed from its results
# --------------------------------------------------------------------------------------------------------

def change_phrase(percent: float, *, better: str, worse: str) -> str:
    """An improvement in % (positive = better) as prose: ``"rises 30%"``, ``"is unchanged"`` (whatever rounds to
    0%, 0.5% included); NaN (no
    comparison possible: no feasible configuration or baseline) gives ``"cannot be compared"``."""
    if not math.isfinite(percent):
        return "cannot be compared"
    shown = f"{abs(percent):.0f}"
    if shown == "0":                 # rounds to 0% (0.5 too: formatting rounds half to even)
        return "is unchanged"
    return f"{better if percent > 0 else worse} {shown}%"


def feasibility_sentence(trace_name: str, feasible: int, total: int, baseline_feasible: bool,
                         slo_s: float) -> str:
    """How many configurations meet the P95-TTFT target on a trace, and what that means for the tables."""
    if feasible == total:
        head = f"On the {trace_name} trace all {total:,} configurations meet the {slo_s:g} s P95 TTFT target"
    elif feasible == 0:
        return (f"On the {trace_name} trace none of the {total:,} configurations meets the {slo_s:g} s P95 TTFT "
                f"target, even on an idle replica: each has throughput 0 at the SLO, an infinite cost per "
                f"token and feasible = False, so there is no frontier and no improvement to report.")
    else:
        head = (f"On the {trace_name} trace {feasible:,} of the {total:,} configurations meet the {slo_s:g} s P95 "
                f"TTFT target; the other {total - feasible:,} (feasible = False) are left out of the frontier")
    tail = "" if baseline_feasible else (", but the baseline does not, so improvements over it cannot be "
                                         "computed")
    return head + tail + "."


def search_sentence(evaluations) -> str:
    """The pruned search against the exhaustive grid (a :func:`model.search.pareto.evaluations_table`), in words."""
    ex = evaluations[evaluations["search"] == "exhaustive grid"].iloc[0]
    pr = evaluations[evaluations["search"] != "exhaustive grid"].iloc[0]
    text = (f"evaluates {int(pr['evaluations']):,} of the {int(ex['evaluations']):,} configurations "
            f"({float(pr['evaluation_reduction']):.1f}× fewer)")
    ratio = float(pr["hypervolume_ratio"])
    if math.isfinite(ratio):
        return text + f" and recovers {100 * ratio:.1f}% of the exhaustive frontier's hypervolume"
    return text + "; with no feasible configuration there is no frontier to recover"


def config_phrase(row) -> str:
    """A configuration's capacities in words (``"59 GB of HBM, 1,024 GB of DRAM, 12 TB of SSD"``); for a
    row with no configuration (NaN capacities: nothing feasible) ``"none (no configuration meets the SLO)"``."""
    if not all(math.isfinite(float(row[k])) for k in ("hbm_gb", "dram_gb", "ssd_gb")):
        return "none (no configuration meets the SLO)"

    def amount(gb: float, tier: str) -> str:
        if gb == 0:
            return f"no {tier}"
        return f"{gb / 1000:g} TB of {tier}" if gb >= 1000 and gb % 1000 == 0 else f"{gb:,.0f} GB of {tier}"
    return ", ".join(amount(float(row[k]), t) for k, t in (("hbm_gb", "HBM"), ("dram_gb", "DRAM"),
                                                           ("ssd_gb", "SSD")))


def setting_sentence(setup: "ServingSetup") -> str:
    """One sentence naming the chapter's setting: model, GPUs, GPU price and where it comes from, SLO."""
    arch = load_architecture(setup.model)
    row = setup.price
    if row.set_by_user:
        source = "as set in the parameters"
    else:
        source = (f"the {setup.gpu} row of data/prices/gpu_prices.csv: {row.provider} {row.pricing}, "
                  f"{row.date}")
    return (f"The search below runs {arch.display_name} on {setup.n_gpus}× {setup.gpu} at "
            f"${setup.gpu_usd_per_hour:.2f} per GPU-hour ({source}), with a P95 TTFT target of "
            f"{setup.slo_ttft_p95_s:g} s.")


def reference_load_phrase(evaluator: "TierEvaluator", baseline_feasible: bool) -> str:
    """The request rate P95 TTFT is measured at, and where it comes from."""
    rate = f"{evaluator.reference_rps:.3g} requests/s"
    if baseline_feasible:
        return f"{rate}, {100 * default('kareto_reference_load'):.0f}% of the baseline's throughput at the SLO"
    return f"{rate}, the trace's own rate, as the baseline meets the SLO at no rate"


def frontier_sentence(on_frontier: int, feasible: int) -> str:
    """How many feasible configurations are on the frontier (or that there is none to plot)."""
    if feasible == 0:
        return "No configuration meets the SLO on this trace, so the chart is empty: there is no frontier."
    verb = "is" if on_frontier == 1 else "are"
    return f"{on_frontier:,} of the {feasible:,} feasible configurations {verb} on the frontier."


def ttl_sentence(choice, summary: dict) -> str:
    """The TTL tuner's choice against the best single TTL, in words (``summary``: :func:`ttl_summary`)."""
    uniform = summary["best_uniform_ttl_s"]
    uniform_text = "no expiry" if not math.isfinite(uniform) else f"{uniform:g} s"
    saving = summary["saving_percent"]
    if abs(saving) < 0.05:
        return f"a TTL per group costs the same as the best single TTL ({uniform_text}): grouping saves nothing"
    if choice.chosen != "TTL per group":
        return f"the tuner keeps '{choice.chosen}' (best single TTL: {uniform_text})"
    return (f"a TTL per group costs {saving:.1f}% less than the best single TTL ({uniform_text})")


# --------------------------------------------------------------------------------------------------------
# Where the KV cache lives (the tiering chapter), computed from its tables
# --------------------------------------------------------------------------------------------------------

#: A hit-ratio difference a reader counts as none: one percentage point (fraction of block lookups).
ONE_POINT = 0.01
#: A throughput ratio a reader counts as no gain: within 5%.
NO_GAIN_RATIO = 1.05


def dram_heading(dram_gain: float, ssd_gain: float) -> str:
    """The bold heading of the tiering chapter's DRAM finding, from the hit-ratio gains (fractions of block
    lookups) of the chapter's DRAM per instance over HBM alone, and of the largest SSD over that DRAM: DRAM
    "pays" only when it adds at least :data:`ONE_POINT` and more than SSD does."""
    if dram_gain < ONE_POINT:
        return "DRAM adds little here."
    if ssd_gain >= dram_gain:
        return "SSD adds more than DRAM here."
    return "DRAM is the tier that pays."


def ssd_reason(ssd_gain: float, dram_gb_per_instance: float) -> str:
    """Why SSD adds what it adds on top of DRAM, from the SSD sweep's hit-ratio gain.

    Parameters
    ----------
    ssd_gain : float
        Hit ratio of the largest SSD minus that of no SSD (fraction of block lookups).
    dram_gb_per_instance : float
        DRAM under the SSD sweep, GB per instance.

    Returns
    -------
    str
        Under one point of gain: DRAM already holds almost everything reused; else: the trace reuses more
        than that DRAM holds.
    """
    dram = capacity_text(dram_gb_per_instance)
    if ssd_gain < ONE_POINT:
        return f"{dram} of DRAM per instance already holds almost everything this trace reuses"
    return f"the trace reuses more than {dram} of DRAM per instance holds"


#: A replay that serves less than this share of the trace's arrival rate falls behind it: its queue grows
#: for the rest of the trace.
KEEPS_PACE_SHARE = 0.95


def seconds_text(s: float) -> str:
    """A time in seconds to 3 significant digits without an exponent: ``"8.26"``, ``"15.2"``, ``"3,590"``."""
    if not math.isfinite(s):
        return "unbounded"
    return f"{float(f'{s:.3g}'):,.0f}" if abs(s) >= 1000 else f"{s:.3g}"


def dram_cost_sentence(sweeps, *, arrival_rps: float, n_instances: int, dram_price: str) -> str:
    """How the cost per million tokens of the Mooncake replay moves along the DRAM sweep, and why.

    Parameters
    ----------
    sweeps : pandas.DataFrame
        The chapter's capacity sweeps (``tiering_capacity_sweeps.csv``): ``tier``, ``capacity_gb_per_instance``
        GB, ``usd_per_million_tokens`` USD, ``throughput_requests_per_s``, ``ttft_p95_s`` s; the rows of tier
        ``"dram"`` are read (the first, at the smallest capacity, is HBM alone when the grid starts at 0).
    arrival_rps : float
        The trace's arrival rate, requests/s.
    n_instances : int
        Prefill instances replaying the trace.
    dram_price : str
        The price of rented DRAM as written (``"$3.09 per GB-month"``).

    Returns
    -------
    str
        When the instances keep pace with the trace (HBM alone serves at least :data:`KEEPS_PACE_SHARE` of its
        arrival rate): the tokens served are fixed, so DRAM only adds its rent and a saving must come from a
        higher rate. When they fall behind: every hit frees prefill time, so DRAM raises the requests served,
        and the cost is lowest where its rent outgrows what it adds (or with no DRAM, or at the largest).
    """
    dram = sweeps[sweeps["tier"] == "dram"].sort_values("capacity_gb_per_instance")
    caps = dram["capacity_gb_per_instance"].to_numpy(dtype=float)
    costs = dram["usd_per_million_tokens"].to_numpy(dtype=float)
    served = dram["throughput_requests_per_s"].to_numpy(dtype=float)
    low = int(costs.argmin())
    none = "with no DRAM" if caps[0] == 0 else f"at {capacity_text(caps[0])} per instance"
    if all(b >= a - 1e-12 for a, b in zip(costs, costs[1:])):
        trend = "only rises with capacity"
    elif low == 0:
        trend = f"is lowest {none}"
    else:
        where = "falls all the way to the sweep's largest capacity," if low == len(caps) - 1 else "is lowest at"
        trend = (f"{where} {capacity_text(caps[low])} per instance (${costs[low]:.3g} against ${costs[0]:.3g} "
                 f"{none})")
    if served[0] >= KEEPS_PACE_SHARE * arrival_rps:
        return (f"At the trace's fixed request rate the cost per million tokens {trend} — the GPUs are paid either "
                f"way and rented DRAM costs about {dram_price} — so a saving has to come from serving more "
                "requests with the same GPUs (next section).")
    start = (f"The {n_instances:,} instance{'s' if n_instances != 1 else ''} fall{'' if n_instances != 1 else 's'} "
             f"behind the trace: it brings {arrival_rps:.3g} requests/s and {'HBM alone' if caps[0] == 0 else none} "
             f"serves {served[0]:.3g}, so requests queue for the rest of the trace (hence a P95 TTFT of "
             f"{seconds_text(float(dram['ttft_p95_s'].iloc[0]))} s). Every hit frees prefill time: the "
             f"sweep's largest DRAM, {capacity_text(caps[-1])} per instance, serves {served[-1]:.3g} requests/s, "
             f"and the cost per million tokens {trend}")
    if low == 0:
        why = f": the requests DRAM adds do not pay its rent (about {dram_price})."
    elif low == len(caps) - 1:
        why = ": the requests DRAM adds pay more than its rent."
    else:
        why = f"; beyond it, DRAM's rent (about {dram_price}) outgrows the requests it adds."
    return start + why + " More instances, or the lower request rates of the next section, take the queue away."


def _slo_rows(slo):
    hbm_row, dram_row, ssd_row = (slo.iloc[i] for i in range(3))
    return hbm_row, dram_row, ssd_row, float(slo["floor_p95_ttft_s"].min()), float(slo["floor_p95_ttft_s"].max())


def slo_sentence(slo, *, dram_label: str, n_gpus: int, n_instances: int, gpus_per_instance: int, gpu: str,
                 target_s: float) -> str:
    """Throughput at the P95-TTFT target of HBM only, HBM + DRAM and HBM + DRAM + SSD, in words.

    Parameters
    ----------
    slo : pandas.DataFrame
        :func:`model.tiering.slo_table` of the three configurations in that order (``configuration``,
        ``feasible``, ``throughput_at_slo_rps`` requests/s, ``usd_per_million_tokens`` USD,
        ``floor_p95_ttft_s`` and ``ttft_p95_s`` s).
    dram_label : str
        The DRAM per instance as written (``"1.02 TB"``).
    n_gpus, n_instances, gpus_per_instance : int
        GPUs in all, prefill instances, GPUs per instance.
    gpu : str
        GPU name.
    target_s : float
        The P95 TTFT target, s.

    Returns
    -------
    str
        Three branches: every configuration meets the target (throughput and cost, HBM → DRAM, and what SSD
        adds), none does, or only some do. A configuration misses either because its zero-load P95 is above
        the target (no rate helps) or because even the slowest rate tried queues above it (the trace's
        requests that arrive together wait for one another whatever the rate).
    """
    hbm_row, dram_row, ssd_row, floor_lo, floor_hi = _slo_rows(slo)
    if slo["feasible"].all():
        gain = dram_row["throughput_at_slo_rps"] / hbm_row["throughput_at_slo_rps"]
        cost_word = compare(dram_row["usd_per_million_tokens"], hbm_row["usd_per_million_tokens"], rel_tol=0.01,
                            more="rises", less="falls", same="stays about the same")
        ssd_gain_rps = ssd_row["throughput_at_slo_rps"] / dram_row["throughput_at_slo_rps"]
        opening = ("Cached prefixes turn into throughput" if gain >= NO_GAIN_RATIO else
                   "Here cached prefixes buy little throughput")
        return (f"{opening}: with {dram_label} of DRAM per instance the same "
                f"{plural(n_gpus, 'GPU')} sustain{'s' if n_gpus == 1 else ''} {as_many(gain)} ({hbm_row['throughput_at_slo_rps']:.3g} → "
                f"{dram_row['throughput_at_slo_rps']:.3g} requests/s) at a P95 TTFT of {target_s:g} s, and "
                f"the cost of a million tokens {cost_word} (${hbm_row['usd_per_million_tokens']:.3g} → "
                f"${dram_row['usd_per_million_tokens']:.3g}) with the DRAM paid for. "
                + ("SSD buys no more throughput on this trace and only adds its price: past the knee, capacity is "
                   "cost without return." if ssd_gain_rps < NO_GAIN_RATIO else
                   f"SSD on top sustains {as_many(ssd_gain_rps)} again."))
    shape = f"{plural(n_instances, 'instance')} of {gpus_per_instance} × {gpu}"
    if not slo["feasible"].any() and floor_lo > target_s:
        return (f"No configuration meets a P95 TTFT of {target_s:g} s: on {shape} the P95 of the zero-load TTFT "
                f"alone is {floor_lo:.3g}–{floor_hi:.3g} s (the prefill of the "
                f"trace's longest prompts), so no request rate is fast enough and the throughput is 0. The "
                f"best P95 the configurations reach, at the slowest rate tried, is "
                f"{slo['ttft_p95_s'].min():.3g} s (with no sustainable rate there is no cost per million tokens "
                "either). A target above the floor, faster GPUs or more GPUs per instance would have an answer.")
    if not slo["feasible"].any():
        return (f"No configuration meets a P95 TTFT of {target_s:g} s at any rate tried, though the P95 of the "
                f"zero-load TTFT is {floor_lo:.3g}–{floor_hi:.3g} s: on {shape}, {_stretched()} the best P95 "
                f"the configurations reach is {slo['ttft_p95_s'].min():.3g} s, because requests that arrive "
                "together still queue behind one another. The throughput is 0 (and there is no cost per million "
                "tokens); more instances or faster GPUs would have an answer.")
    ok, no = slo[slo["feasible"]], slo[~slo["feasible"]]
    above = no[no["floor_p95_ttft_s"] > target_s]
    queued = no[no["floor_p95_ttft_s"] <= target_s]
    why = []
    if len(above):
        why.append(f"for {join_and(above['configuration'])} the zero-load P95 TTFT alone "
                   f"({join_and(f'{x:.3g} s' for x in above['floor_p95_ttft_s'])}) is above the target")
    if len(queued):
        why.append(f"for {join_and(queued['configuration'])} even {_stretched(comma=False)} requests that arrive "
                   f"together queue to a P95 of {join_and(f'{x:.3g} s' for x in queued['ttft_p95_s'])}")
    return (f"Only {join_and(ok['configuration'])} meet{'s' if len(ok) == 1 else ''} a P95 TTFT of "
            f"{target_s:g} s ({join_and(f'{r:.3g}' for r in ok['throughput_at_slo_rps'])} requests/s); "
            + "; ".join(why) + ", so no request "
            "rate meets it (and no cost per million tokens is given): here cached prefixes make the "
            "difference between an answer and none.")


def _stretched(comma: bool = True) -> str:
    """The slowest request rate :func:`model.tiering.throughput_at_slo` tries, as a clause."""
    return (f"at the slowest rate tried (the trace's arrival times stretched "
            f"{default('tiering_slo_max_speedup'):,g}-fold){',' if comma else ''}")


def slo_finding(slo, *, dram_label: str, n_gpus: int, target_s: float) -> str:
    """The chapter summary's short form of :func:`slo_sentence` (it follows "At the TTFT target (… s at P95),").

    Parameters
    ----------
    slo : pandas.DataFrame
        As for :func:`slo_sentence`.
    dram_label : str
        The DRAM per instance as written.
    n_gpus : int
        GPUs in all.
    target_s : float
        The P95 TTFT target, s.

    Returns
    -------
    str
        The same three branches as :func:`slo_sentence`, one clause each.
    """
    hbm_row, dram_row, _, floor_lo, floor_hi = _slo_rows(slo)
    if slo["feasible"].all():
        gain = dram_row["throughput_at_slo_rps"] / hbm_row["throughput_at_slo_rps"]
        return (f"with {dram_label} of DRAM per instance the same {plural(n_gpus, 'GPU')} "
                f"sustain{'s' if n_gpus == 1 else ''} {as_many(gain)} "
                f"({hbm_row['throughput_at_slo_rps']:.3g} → "
                f"{dram_row['throughput_at_slo_rps']:.3g} requests/s), and a million tokens cost "
                f"${hbm_row['usd_per_million_tokens']:.3g} → ${dram_row['usd_per_million_tokens']:.3g}.")
    if not slo["feasible"].any() and floor_lo > target_s:
        return (f"no configuration meets it: the zero-load P95 alone is "
                f"{floor_lo:.3g}–{floor_hi:.3g} s on this setup.")
    if not slo["feasible"].any():
        return (f"no configuration meets it: even {_stretched(comma=False)} requests that arrive together queue "
                f"to a P95 of {slo['ttft_p95_s'].min():.3g} s on this setup.")
    ok = slo[slo["feasible"]]
    return (f"only {join_and(ok['configuration'])} meet{'s' if len(ok) == 1 else ''} it: cached prefixes "
            "make the difference between an answer and none.")


def ttl_keep_text(shortest_ttl_s: float, no_ttl_hit_ratio: float) -> str:
    """Which uniform TTLs keep within one point of the no-TTL hit ratio.

    Parameters
    ----------
    shortest_ttl_s : float
        The shortest uniform TTL that does, s (:func:`model.tiering.sweeps.shortest_ttl_within`); NaN if none.
    no_ttl_hit_ratio : float
        Hit ratio with no TTL (fraction of block lookups).

    Returns
    -------
    str
    """
    ratio = f"{100 * no_ttl_hit_ratio:.1f}%"
    if math.isnan(shortest_ttl_s):
        return f"no uniform TTL tried keeps within one point of the no-TTL hit ratio ({ratio})"
    return f"every uniform TTL of {shortest_ttl_s:g} s or more keeps within one point of the no-TTL hit ratio ({ratio})"


def ttl_match_text(findings: dict) -> str:
    """The per-group setting's memory against the shortest uniform TTL that keeps as many hits.

    Parameters
    ----------
    findings : dict
        :func:`model.tiering.ttl_findings` (``matching`` label or None, ``matching_memory_gb`` GB,
        ``memory_saved`` fraction).

    Returns
    -------
    str
        ``"40% less memory than the shortest uniform TTL that keeps as many hits (uniform 120 s, 300 GB)"``,
        ``"… more memory …"`` for a negative saving, or that no uniform TTL tried keeps as many hits.
    """
    if findings["matching"] is None:
        return "no uniform TTL tried keeping as many hits"
    saved = findings["memory_saved"]
    return (f"{100 * abs(saved):.0f}% {'less' if saved >= 0 else 'more'} memory than "
            f"the shortest uniform TTL that keeps as many hits ({findings['matching']}, "
            f"{capacity_text(findings['matching_memory_gb'])})")



def ttl_saving_text(findings: dict) -> str:
    """The per-group setting's memory against the shortest uniform TTL that keeps as many hits, short:
    ``"43% less than the shortest uniform TTL that keeps as many hits"`` (``"… more than …"`` for a negative
    saving), or that no uniform TTL tried keeps as many hits."""
    if findings["matching"] is None:
        return "no uniform TTL tried keeps as many hits"
    saved = findings["memory_saved"]
    return (f"{100 * abs(saved):.0f}% {'less' if saved >= 0 else 'more'} than the shortest uniform TTL that keeps "
            "as many hits")

# --------------------------------------------------------------------------------------------------------
# Batching (the batching chapter), computed from its runs
# --------------------------------------------------------------------------------------------------------

#: Below this share of reserved KV memory holding tokens, most of it is empty.
MOSTLY_EMPTY_BELOW = 0.5
#: From this share on, only each sequence's last, partly filled block is empty.
LITTLE_EMPTY_FROM = 0.9
#: A P95 latency this many times another's is slower at the tail (within 5% is not).
SLOWER_RATIO = 1.05


def sweep_peaks_text(peak) -> str:
    """The load sweep's peak output throughput of each policy, compared.

    Parameters
    ----------
    peak : pandas.Series
        Policy (``static``, ``continuous``, ``chunked_prefill``, those that were run) → peak output tokens/s.

    Returns
    -------
    str
        Continuous against static batching and chunked prefill against continuous batching, where both of a
        pair were run, joined by "; "; with no pair, that there is nothing to compare.
    """
    words = []
    if "static" in peak and "continuous" in peak:
        words.append(f"continuous batching reaches {peak['continuous']:,.0f} output tokens/s against static batching's "
                     f"{peak['static']:,.0f} ({times(peak['continuous'] / peak['static'])})")
    if "continuous" in peak and "chunked_prefill" in peak:
        words.append(f"chunked prefill reaches {peak['chunked_prefill']:,.0f}, "
                     f"{compare(peak['chunked_prefill'], peak['continuous'], more='more than', less='less than')} "
                     f"continuous batching")
    return "; ".join(words) if words else (f"only {', '.join(peak.index)} was run (parameter policies), so there is "
                                           "nothing to compare")


def held_phrase(held: dict, name: str, what: str) -> str:
    """How much of the KV memory a policy reserves holds real tokens.

    Parameters
    ----------
    held : dict
        Policy → share of its reserved KV memory holding tokens (fraction, the run's ``kv_utilization``).
    name : str
        The policy.
    what : str
        How the text names its allocation (``"paged allocation"``).

    Returns
    -------
    str
        ``"<what> holds real tokens in N% of the memory it reserves (…)"``: most of it empty below
        :data:`MOSTLY_EMPTY_BELOW`, some of it below :data:`LITTLE_EMPTY_FROM`, else little; or that the
        policy was not run.
    """
    if name not in held:
        return f"{what} was not run (parameter policies)"
    share = held[name]
    if not share < LITTLE_EMPTY_FROM:
        empty = "little of it empty: only each sequence’s last block is partly filled"
    elif share < MOSTLY_EMPTY_BELOW:
        empty = "most of its reserved memory empty"
    else:
        empty = "some of its reserved memory empty"
    return f"{what} holds real tokens in {100 * share:.0f}% of the memory it reserves ({empty})"


def hf_why_text(hf_batch: int, n_gpus: int, hf_ttft_p95_s: float, hf_p95_s: float, vllm_p95_s: float) -> str:
    """Why the HF-style replica is (or is not) slower at the tail than the vLLM-style one.

    Parameters
    ----------
    hf_batch : int
        Prompts per padded batch of the HF-style replica.
    n_gpus : int
        GPUs per replica (more than one: its layers are split over them, one GPU at a time).
    hf_ttft_p95_s, hf_p95_s, vllm_p95_s : float
        P95 time to first token of the HF-style replica, and P95 end-to-end latency of both, s.

    Returns
    -------
    str
        Slower (P95 above :data:`SLOWER_RATIO` times vLLM's): padded batches returned whole; else not slower.
    """
    where = " on one GPU at a time" if n_gpus > 1 else ""
    if hf_p95_s > SLOWER_RATIO * vllm_p95_s:
        return (f"The HF-style replica is slower because it prefills each padded batch of {hf_batch} prompts{where} "
                f"and returns a batch only when its longest request ends (its P95 time to first token alone is "
                f"{hf_ttft_p95_s:.2f} s).")
    return (f"Here the HF-style replica is not slower at the tail: with {hf_batch} prompts per padded batch"
            f"{where} its P95 time to first token is {hf_ttft_p95_s:.2f} s.")


# --------------------------------------------------------------------------------------------------------
# The KV cache at fleet scale (the fleet_cache chapter), computed from its tables
# --------------------------------------------------------------------------------------------------------

def ordinal_word(n: int) -> str:
    """A block's position in the prompt as a word: ``"first"``, ``"second"``, ``"third"``, else ``"4th"``."""
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


def scales_text(scales) -> str:
    """Session counts as written: ``[10000, 100000]`` → ``"10,000, 100,000"``; none → ``"none"``."""
    return ", ".join(f"{s:,}" for s in scales) or "none"


def prefix_route_finding(prefix_blocks: int, shared_blocks: int, persona_blocks: int) -> str:
    """What prefix routing does, from the block it routes on.

    Parameters
    ----------
    prefix_blocks : int
        The block of the prompt prefix routing routes on (1 = the first).
    shared_blocks : int
        Blocks of the persona every character shares (the prompt's first blocks).
    persona_blocks : int
        Blocks of the whole persona (shared part included).

    Returns
    -------
    str
        On a shared block: every request goes to one node; on a persona block: a session stays on one node
        but popular characters pile up; past the persona: it follows the session's own history.
    """
    if prefix_blocks <= shared_blocks:
        return "Prefix routing on the shared first blocks sends every request to one node"
    if prefix_blocks <= persona_blocks:
        return ("Prefix routing on the persona keeps a session on one node (its prompts share the persona) but "
                "piles the popular characters on their nodes")
    return "Prefix routing on a block past the persona follows the session's own history until its window slides"


def route_hits_text(hit_ratio, routes) -> str:
    """Hit ratios of routing policies: ``"round-robin 40%; session 80%"``.

    Parameters
    ----------
    hit_ratio : pandas.Series
        Route → block hit ratio (fraction of block lookups).
    routes : list of str
        The routes to name, in order.
    """
    return "; ".join(f"{r} {100 * hit_ratio.loc[r]:.0f}%" for r in routes)


def route_hit_text(hit_ratio, route: str) -> str:
    """One route's hit ratio (``hit_ratio``: route → fraction) as ``"40%"``; ``"n/a"`` if it was not run."""
    return f"{100 * hit_ratio.loc[route]:.0f}%" if route in hit_ratio.index else "n/a"


def times_range(values) -> str:
    """Ratios (a pandas.Series) as "×1.2 to ×3.4" (their least and greatest), one ratio as "×1.2", none as ``"n/a"``."""
    if len(values) == 0:
        return "n/a"
    return f"{times(values.min())} to {times(values.max())}" if len(values) > 1 else times(values.iloc[0])


def truncated_nodes_text(analysed, keep_max_lookups: float) -> str:
    """Which analysed nodes received more block lookups than are kept, as a sentence ("" if none did).

    Parameters
    ----------
    analysed : pandas.DataFrame
        ``sessions``, ``route`` and ``truncated`` (bool) of each analysed node.
    keep_max_lookups : float
        Block lookups kept per node (the first ones of its run).
    """
    cut = analysed[analysed["truncated"]]
    if cut.empty:
        return ""
    nodes = ", ".join(f"{r} at {s:,} sessions" for s, r in zip(cut["sessions"], cut["route"]))
    return (f"The node analysed for {nodes} received more requests than are kept (the first "
            f"{keep_max_lookups / 1e6:,.0f}M block lookups of its run are analysed).")


def usd_text(usd: float) -> str:
    """An amount in USD: ``"$1.23M"`` from a million (in absolute value) on, else ``"$12,345"``."""
    return f"${usd / 1e6:,.2f}M" if abs(usd) >= 1e6 else f"${usd:,.0f}"


def net_saving_verb(net_usd: float) -> str:
    """The verb before a net saving (USD): ``"saves"`` when positive, else ``"costs more than it saves:"``."""
    return "saves" if net_usd > 0 else "costs more than it saves:"


def beyond_hbm_text(dram_gb: float, ssd_gb: float, hbm_gb: float) -> str:
    """Where a node's cache goes past HBM.

    Parameters
    ----------
    dram_gb, ssd_gb : float
        Cache in DRAM and in SSD, GB per node.
    hbm_gb : float
        HBM left for KV, GB per node.

    Returns
    -------
    str
        All within HBM (under half a GB beyond it), else the GB of DRAM and SSD.
    """
    if dram_gb + ssd_gb < 0.5:
        return f"all within the {hbm_gb:,.0f} GB of HBM left for KV"
    return f"{dram_gb:,.0f} GB of it DRAM and {ssd_gb:,.0f} GB SSD beyond HBM"


def percent_range(values) -> str:
    """Fractions (a pandas.Series) as "40% to 85%" (their least and greatest; NaN, a share of no lookup, left
    out), or "no measurable share (none was looked up)" when every one is NaN."""
    values = values.dropna()
    if values.empty:
        return "no measurable share (none was looked up)"
    return f"{100 * values.min():.0f}% to {100 * values.max():.0f}%"


def side_of(values, stated: float) -> str:
    """Where simulated values (a pandas.Series) lie against a stated one: ``"above"``, ``"below"`` or ``"on both
    sides of"`` (NaN left out; ``"not comparable with"`` when every one is NaN)."""
    values = values.dropna()
    if values.empty:
        return "not comparable with"
    if values.min() > stated:
        return "above"
    return "below" if values.max() < stated else "on both sides of"


def smaller_change_words(computed_ratio: float, input_ratio: float) -> tuple[str, str]:
    """The joining words when the computed tokens change by ``computed_ratio`` and the prompt by
    ``input_ratio``: ``("but", "only ")`` if the computed tokens change less, else ``("and", "")``."""
    if abs(1 - computed_ratio) < abs(1 - input_ratio):
        return "but", "only "
    return "and", ""


def covered_text(covered) -> str:
    """How many intervals hold the full value (``covered``: a pandas.Series of bools): ``"3 of 4"``; none checked: ``"none"``."""
    return f"{int(covered.sum())} of {len(covered)}" if len(covered) else "none"


def first_points_text(diff_points) -> str:
    """The first of some differences in points (a pandas.Series), signed (``"+0.4"``); none: ``"n/a"``."""
    return f"{diff_points.iloc[0]:+.1f}" if len(diff_points) else "n/a"


def route_gb_text(gb, route: str) -> str:
    """One route's cache (``gb``: route → GB per node) as ``"1,234"``; ``"n/a"`` if the route was not run."""
    return f"{gb.loc[route]:,.0f}" if route in gb.index else "n/a"


# KV-cache sizing (the kv_sizing chapter), computed from its memory budgets
# --------------------------------------------------------------------------------------------------------

#: An architecture's attention kind (``Architecture.attention``) as the chapter writes it.
ATTENTION_NAMES = {"GQA": "grouped-query attention", "MQA": "multi-query attention", "MHA": "multi-head attention",
                   "MLA": "multi-head latent attention"}

#: A layer kind (``model.architectures.LAYER_KINDS``) as the chapters name its layers.
LAYER_KIND_NAMES = {"full": "full-attention", "sliding": "sliding-window", "chunked": "chunked-attention",
                    "mla": "latent-attention (MLA)", "linear": "linear-attention"}


def _windows(arch, kind: str) -> list[int]:
    return sorted({a.window for a in arch.attention_layers() if a.kind == kind and a.window})


def _mla_elements(arch) -> int:
    return next(a.elements_per_token for a in arch.attention_layers() if a.kind == "mla")


def grows_with_context(arch) -> bool:
    """Whether every layer of ``arch`` holds every token (full attention or MLA): then a session of T tokens holds
    T times the bytes of one token."""
    return all(a.kind in ("full", "mla") for a in arch.attention_layers())


def layer_kinds_text(arch) -> str:
    """The decoder layers by kind: ``"18 full-attention and 18 sliding-window (128 tokens) layers"``; one kind:
    ``"80 full-attention layers"``."""
    parts = []
    for kind, n in arch.layer_kinds().items():
        w = _windows(arch, kind)
        extra = f" ({', '.join(f'{x:,}' for x in w)} tokens)" if w else ""
        parts.append(f"{n} {LAYER_KIND_NAMES[kind]}{extra}")
    return join_and(parts) + " layers"


def model_layout_text(arch) -> str:
    """The model's attention as the KV cache sees it, for the chapter's assumptions and its first section. A
    Llama-family model (every layer full attention): ``"80 layers, 64 query heads and 8 key/value heads of width
    128 (grouped-query attention)"``; an MLA model names its latent, a mixed one its layer kinds."""
    heads = (f"{arch.num_attention_heads} query heads and {arch.num_kv_heads} key/value heads of width "
             f"{arch.head_dim}")
    if arch.attention == "MLA":
        return (f"{arch.num_layers} layers, {arch.num_attention_heads} query heads sharing one "
                f"{_mla_elements(arch)}-element latent per layer and token ({ATTENTION_NAMES['MLA']})")
    text = f"{arch.num_layers} layers, {heads} ({ATTENTION_NAMES[arch.attention]})"
    if set(arch.layer_kinds()) != {"full"}:
        text += f": {layer_kinds_text(arch)}"
    return text


def kv_formula_text(arch, bytes_per_element: float) -> str:
    """The arithmetic of one token's KV bytes while every layer holds it: ``"2 × 80 × 8 × 128 × 2"`` for a
    Llama-family model; an MLA model caches one latent per layer (``"61 × 576 × 2"``); a model whose layers
    differ sums its layer kinds (``"(18 + 18) × 2 × 8 × 64 × 2"``), a linear-attention layer adding no per-token
    bytes (its fixed state is counted per session)."""
    b = f"{bytes_per_element:g}"
    if not arch.layers:
        return f"2 × {arch.num_layers} × {arch.num_kv_heads} × {arch.head_dim} × {b}"
    groups: dict[int, int] = {}
    for a in arch.attention_layers():
        if a.elements_per_token:
            groups[a.elements_per_token] = groups.get(a.elements_per_token, 0) + 1
    if arch.attention == "MLA" and len(groups) == 1:
        (e, n), = groups.items()
        return (f"{n} × {e} × {b}, since an MLA layer caches one {e}-element latent in place of its heads' keys "
                "and values")
    terms = []
    for e, n in groups.items():
        if e % (2 * arch.num_kv_heads) == 0 and e // (2 * arch.num_kv_heads) == arch.head_dim:
            terms.append(f"2 × {n} × {arch.num_kv_heads} × {arch.head_dim}")
        else:
            terms.append(f"{n} × {e}")
    text = f"({' + '.join(terms)}) × {b}" if len(terms) > 1 else f"{terms[0]} × {b}"
    linear = arch.layer_kinds().get("linear", 0)
    if linear:
        text += (f", counting the {arch.num_layers - linear} attention layers only (the {linear} linear-attention "
                 "layers keep a fixed state instead)")
    return text


def session_size_text(arch) -> str:
    """How a session's KV follows from one token's: ``"A session of T tokens holds T times as much."`` when every
    layer holds every token, else what the windows, chunks and states change."""
    if grows_with_context(arch):
        return "A session of T tokens holds T times as much."
    return "A session of T tokens does not hold T times as much: " + session_rule_text(arch, consequence=False) + "."


def kv_structure_text(arch) -> str:
    """What the attention does to the KV cache: grouped-query attention's division (:func:`gqa_text`), MLA's one
    latent shared by all query heads, then what windows, chunks and linear layers hold."""
    if arch.attention == "MLA":
        text = (f"one {_mla_elements(arch)}-element latent per layer, shared by its {arch.num_attention_heads} "
                "query heads, replaces their keys and values")
    else:
        text = gqa_text(arch.gqa_group_size)
    return text + session_rule_text(arch, lead="; ")


def session_rule_text(arch, lead: str = "", consequence: bool = True) -> str:
    """What a session's bytes are beyond tokens × bytes per token: nothing for a model whose every layer holds
    every token (``""``); otherwise what each sliding, chunked or linear kind holds, after ``lead`` (and, with
    ``consequence``, that a session therefore does not hold its tokens × the per-token figure: less with windows
    and chunks, more or less with a fixed state)."""
    kinds = arch.layer_kinds()
    parts = []
    if "sliding" in kinds:
        parts.append(f"its {kinds['sliding']} sliding-window layers hold at most their last "
                     f"{'/'.join(f'{w:,}' for w in _windows(arch, 'sliding'))} tokens")
    if "chunked" in kinds:
        parts.append(f"its {kinds['chunked']} chunked-attention layers hold only the current "
                     f"{'/'.join(f'{w:,}' for w in _windows(arch, 'chunked'))}-token chunk")
    if "linear" in kinds:
        parts.append(f"its {kinds['linear']} linear-attention layers hold no token but a fixed state per session")
    if not parts:
        return ""
    return lead + join_and(parts) + (", so a session does not hold its tokens × that figure" if consequence else "")


def fit_rule_text(arch) -> str:
    """What the sessions-that-fit formula's T × KV bytes per token stands for with ``arch``."""
    if grows_with_context(arch) and not arch.layers:
        return "Here T × KV bytes per token is one session's KV cache."
    return ("Here T × KV bytes per token stands for one session's KV cache on the group: what each layer holds at "
            "T tokens (windows, chunks, fixed states), with any copies the group keeps of it.")


def kv_copies_text(arch, n_gpus: int, context_tokens: float, kv_dtype: str) -> str:
    """What a tensor-parallel group of ``n_gpus`` GPUs holds beyond one copy of each session's KV, as a clause
    to append (``""`` when the heads split evenly): an MLA latent is whole on every GPU, and fewer KV heads than
    GPUs are each held on several (:func:`model.kv.size.tp_share`)."""
    from model.kv.size import kv_footprint

    if not arch.layers or n_gpus <= 1:
        return ""
    fp = kv_footprint(arch, context_tokens, kv_dtype, tp=n_gpus)
    ratio = fp.tp_group_bytes_per_sequence / fp.kv_bytes_per_sequence
    if ratio <= 1 + 1e-9:
        return ""
    why = ("an MLA latent is held whole on every GPU" if arch.attention == "MLA"
           else "its KV heads, fewer than the GPUs, are each held on several")
    return (f" ({why}, so the group holds {ratio:,.3g} times each session's KV cache, "
            f"{fp.tp_group_bytes_per_sequence / 1e9:,.2f} GB, and the figures below count it)")


def kv_finding(arch, *, kib_per_token: float, kv_dtype: str, context_tokens: int, gb_per_session: float) -> str:
    """The chapter's first finding: KV per token and per session. A model whose every layer holds every token:
    ``"Llama 2 70B keeps 320 KiB of KV cache per token in FP16: a 10,000-token session holds 3.28 GB."``; otherwise
    the per-token figure is the one while every layer holds the token, and the session's mean per token follows."""
    head = f"{arch.display_name} keeps {kib_per_token:,.0f} KiB of KV cache per token in {kv_dtype.upper()}"
    session = f"a {context_tokens:,}-token session holds {gb_per_session:.2f} GB"
    if grows_with_context(arch):
        return f"{head}: {session}."
    mean = gb_per_session * 1e9 / context_tokens / 1024
    return (f"{head} while every layer holds it, but{session_rule_text(arch, lead=' ', consequence=False)}: "
            f"{session}, a mean of {mean:,.1f} KiB per token.")


def gqa_text(group_size: int) -> str:
    """What grouped-query attention does to the KV cache, for ``group_size`` query heads per key/value head:
    ``"its 8 query heads per key/value head divide the cache by 8"``; 1 gives ``"every query head has its
    own key/value head"``."""
    if group_size > 1:
        return f"its {group_size} query heads per key/value head divide the cache by {group_size}"
    return "every query head has its own key/value head"


def native_context_text(context_tokens: int, native_tokens: int) -> str:
    """Whether a ``context_tokens`` session fits the model's native context of ``native_tokens`` tokens."""
    if context_tokens > native_tokens:
        return (f"{context_tokens:,} tokens exceed the model's native {native_tokens:,}-token context, so such a "
                "session needs a context extension or a truncated history")
    return f"{context_tokens:,} tokens fit within the model's native {native_tokens:,}-token context"


def missing_lines_text(missing) -> str:
    """The GPU counts with no line on the sessions-vs-context chart (none of them holds one session)."""
    if not missing:
        return "No line is missing: every GPU count holds at least one session at some context."
    return ("The chart has no line for " + ", ".join(str(n) for n in missing) + " GPU"
            + ("s" if list(missing) != [1] else "") + ": not even one session fits there beside the weights.")


def _sessions_word(n: int) -> str:
    return f"session{'s' if n != 1 else ''}"


def one_gpu_text(one: "MemoryBudget", context_tokens: int) -> str:
    """What one GPU's memory budget ``one`` leaves for sessions of ``context_tokens`` tokens (a clause)."""
    if one.sessions > 0:
        return (f"they fit on one GPU and leave {one.kv_budget_bytes / 1e9:.1f} GB of KV cache: {one.sessions:,} "
                f"{_sessions_word(one.sessions)} of {context_tokens:,} tokens")
    if one.weights_fit:
        return "they fit on one GPU but leave too little for even one session"
    return "they do not fit on one GPU at all, so no session does"


def one_gpu_finding(one: "MemoryBudget", *, gpu_name: str, weight_dtype: str) -> str:
    """The finding of one GPU's budget ``one``: weights against usable memory (GB), then sessions beside them."""
    head = (f"On one {gpu_name.upper()}, {weight_dtype.upper()} weights take {one.weight_bytes / 1e9:.0f} GB "
            f"of the {one.usable_bytes / 1e9:.0f} GB usable: ")
    if one.sessions > 0:
        return head + f"{one.sessions:,} such {_sessions_word(one.sessions)} fit beside them."
    return head + "no such session fits beside them."


def group_text(group: "MemoryBudget", *, finding: bool = False) -> str:
    """Sessions a group of ``group.n_gpus`` GPUs holds, and per GPU; ``finding`` gives the chapter's
    finding (a full sentence) rather than the body's clause ("such sessions")."""
    n = group.n_gpus
    if group.sessions > 0:
        such = "" if finding else "such "
        text = f"A group of {n} GPUs holds {group.sessions:,} {such}sessions ({group.sessions / n:,.1f} per GPU)"
    else:
        text = f"Even a group of {n} GPUs holds no such session"
    return text + ("." if finding else "")


def fleet_text(sessions: int, group: "MemoryBudget", fleet: int | None) -> str:
    """The KV cache (TB) and GPUs (``fleet``, None: no number of groups) that hold ``sessions`` sessions."""
    n = group.n_gpus
    if fleet is None:
        return f"No number of {n}-GPU groups holds {sessions:,} of them."
    return (f"Holding {sessions:,} of them at once takes {sessions * group.kv_bytes_per_session / 1e12:,.1f} TB of "
            f"KV cache: {fleet // n:,} such groups, {fleet:,} GPUs.")


def fleet_finding(sessions: int, group: "MemoryBudget", fleet: int | None) -> str:
    """The chapter's finding on ``sessions`` concurrent sessions: KV cache (TB) and GPUs by memory alone."""
    n = group.n_gpus
    if fleet is None:
        return f"No number of {n}-GPU groups holds {sessions:,} sessions."
    return (f"{sessions:,} concurrent sessions take {sessions * group.kv_bytes_per_session / 1e12:,.1f} TB of KV "
            f"cache: {fleet:,} GPUs ({fleet // n:,} groups of {n}) by memory alone.")


# --------------------------------------------------------------------------------------------------------
# The economics chapter: large counts and bills as the prose writes them, the measured cross-check
# --------------------------------------------------------------------------------------------------------

def big_count(x: float) -> str:
    """A large count as the prose writes it, 3 significant digits: ``"14.6M"``, ``"1.46T"``, ``"950"``."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:,.3g}{suffix}"
    return f"{x:,.3g}"


def usd_month_text(x: float) -> str:
    """A monthly bill in USD as the prose writes it: ``"$3.2B"``, ``"$45M"``, ``"$812K"`` (3 significant digits)."""
    if x >= 1e9:
        return f"${x / 1e9:,.3g}B"
    if x >= 1e6:
        return f"${x / 1e6:,.3g}M"
    return f"${x / 1e3:,.3g}K"


def bill_position(x: float, low: float, high: float) -> str:
    """Where a stated bill ``x`` stands against readings from ``low`` to ``high`` (same unit)."""
    if x < low:
        return "falls below every reading"
    if x > high:
        return "exceeds every reading"
    return "lies inside the readings"


def measured_sentence(tokens_per_s_measured: float | None) -> str:
    """The measured throughput (tokens/s per GPU; None: none on record) set beside the modelled one."""
    if tokens_per_s_measured is None:
        return "No measured throughput of this model, GPU and replica size is on record to set beside it."
    return (f"A measured figure for the same setting (LMDeploy, data/parameters), {tokens_per_s_measured:,.0f} "
            "tokens per second per GPU with short prompts, stands beside it as a cross-check; both flatter "
            "self-hosting at long contexts.")


def measured_price_clause(low: float, high: float, measured: bool) -> str:
    """The price range per 1M tokens (USD) of the measured throughput, as a parenthesis; ``""`` if none."""
    if not measured:
        return ""
    return f" (the measured throughput ${low:.2f}–{high:.2f})"


# ======================================================================================================
# Validation chapter (notebooks/validation.ipynb): the step-time model against the measured points.
# ======================================================================================================

#: How each step-time metric is named in the validation chapter's prose and tables.
METRIC_LABELS = {"tpot_ms": "time per output token", "ttft_ms": "time to first token",
                 "output_tokens_per_s": "output tokens/s (system)",
                 "output_tokens_per_s_per_gpu": "output tokens/s per GPU",
                 "total_tokens_per_s": "input + output tokens/s", "requests_per_s": "requests/s",
                 "batch_latency_ms": "static batch latency",
                 "all": "all metrics"}


def not_predicted_text(reasons) -> str:
    """``"N reason; ..."`` for each reason a point is not predicted, in ``reasons``' order.

    ``reasons`` is a pandas Series of counts indexed by reason (``value_counts()``); empty gives ``""``.
    """
    return "; ".join(f"{n} {r}" for r, n in reasons.items())


def metric_errors_text(by_metric) -> str:
    """``"<metric> X% median (at most Y%); ..."``, one clause per row of ``by_metric`` (columns ``metric``,
    ``after_median`` and ``after_max``, fractions), percentages rounded to whole numbers."""
    return "; ".join(f"{METRIC_LABELS[r.metric]} {100 * r.after_median:.0f}% median"
                     f" (at most {100 * r.after_max:.0f}%)" for r in by_metric.itertuples())


def fail_where_text(sources) -> str:
    """``"N from <source> (up to X%); ..."`` for each source of misses (a frame indexed by source with
    ``size`` and ``max``, |error| as a fraction), or ``"none"`` when there is no miss."""
    if sources.empty:
        return "none"
    return "; ".join(f"{int(n)} from {src} (up to {100 * m:.0f}%)" for src, (n, m) in
                     sources[["size", "max"]].iterrows())


def refit_move_text(params, threshold: float = 0.01) -> str:
    """What a refit of every step-time parameter at once did (``params``: the validation chapter's parameter table,
    ``meaning`` and ``change`` = refit ÷ stored − 1): ``"leaves every parameter within 1% of its stored value"``, or
    ``"moves them, most of all the <meaning> (+66%)"``."""
    top = params.loc[params["change"].abs().idxmax()]
    if abs(top["change"]) < threshold:
        return f"leaves every parameter within {100 * threshold:.0f}% of its stored value"
    return f"moves them, most of all the {top['meaning']} ({100 * top['change']:+.0f}%)"


# ======================================================================================================
# Quantization chapter (notebooks/quantization.ipynb): weights beside the KV cache, the decode batch.
# ======================================================================================================


def plural(n: int, noun: str) -> str:
    """``"1 sequence"``, ``"4 sequences"``: ``n`` (thousands separated) and ``noun``, plural unless 1."""
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def weights_fit_sentence(gpu_name: str, left_gb: float, fit: int, context_tokens: int, min_gpus: int) -> str:
    """What the quantized weights leave on one GPU: sessions of ``context_tokens`` that fit beside them in
    ``left_gb`` (GB, negative when the weights alone do not fit), or the ``min_gpus`` they need."""
    if fit > 0:
        return (f"fit on one {gpu_name} and leave {left_gb:.1f} GB for KV cache: "
                f"{plural(fit, 'session')} of {context_tokens:,} tokens")
    if left_gb >= 0:
        return (f"fit on one {gpu_name} but leave only {left_gb:.1f} GB for KV cache, less than one session of "
                f"{context_tokens:,} tokens")
    return f"do not fit on one {gpu_name}: they need {min_gpus} GPUs"


def batch_reason_text(fit: int, decode_batch: int | None, q: str, gpu_name: str) -> str:
    """Why the speed-up bound is read at its batch: set by hand, the ``fit`` sessions beside ``q`` weights
    on one GPU, or a single sequence when none fits."""
    if decode_batch is not None:
        return "a batch set by hand"
    if fit > 0:
        return f"the {plural(fit, 'session')} that fit{'s' if fit == 1 else ''} beside {q} weights on one {gpu_name}"
    return f"a single sequence, as no session fits beside {q} weights on one {gpu_name}"


def compute_note_text(supported: bool, compute: str, q: str, gpu_name: str) -> str:
    """Empty when the GPU has tensor cores for ``compute``; else why ``q`` weights fall further short."""
    if supported:
        return ""
    return (f"The {gpu_name} has no {compute.upper()} tensor cores: {q} weights must be converted before each "
            "multiply, so the bound is further from reach.")


def price_label_text(set_by_user: bool, price_label: str | None, row_label: str) -> str:
    """Where the GPU price comes from: the price row's ``row_label``, or ``price_label`` for a hand-set
    price (``"a price set by hand"`` when none is given)."""
    return (price_label or "a price set by hand") if set_by_user else row_label


# ======================================================================================================
# The persona and memory chapter (notebooks/persona_memory.ipynb), computed from its budgets
# ======================================================================================================

def prefill_price_label(price) -> str:
    """Where the prefill basis's GPU-hour price comes from: ``"a price set by hand"``, or the price row
    as ``"AWS on-demand, 2024-05"`` (provider in capitals, pricing, date)."""
    if price.set_by_user:
        return "a price set by hand"
    return f"{price.provider.upper()} {price.pricing}, {price.date}"


def persona_kv_budget_sentence(budget: "MemoryBudget", *, weight_dtype: str, gpu_name: str) -> str:
    """The KV budget one GPU leaves beside ``weight_dtype`` weights (GB), or why none is left."""
    if budget.weights_fit:
        return (f"With {weight_dtype.upper()} weights on one {gpu_name} the KV budget left per GPU "
                f"is {budget.kv_budget_bytes / 1e9:.1f} GB, and conversations need it too.")
    return (f"With {weight_dtype.upper()} weights the model alone ({budget.weight_bytes / 1e9:,.0f} GB) exceeds the "
            f"usable memory of one {gpu_name}: no KV budget is left (feasible = False below).")


def _percent_text(pct: float) -> str:
    """A percentage with 3 significant digits below 1,000% (``"115%"``), whole above (``"1,025%"``)."""
    return f"{pct:,.3g}%" if pct < 1000 else f"{pct:,.0f}%"


def persona_hbm_sentence(weights_fit: bool, *, fleet_gpus: int, fleet_personas: int, popular_characters: int,
                         weight_dtype: str, model_name: str, gpu_name: str) -> str:
    """How many personas the fleet's HBM holds, as a share of the ``popular_characters`` the cache should
    hold, or that the model does not fit on one GPU (no full stop)."""
    if weights_fit:
        return (f"The whole fleet's HBM ({fleet_gpus:,} GPUs), emptied of conversations, holds "
                f"{fleet_personas:,} personas ({_percent_text(100 * fleet_personas / popular_characters)} of the "
                f"{popular_characters:,} the cache should hold)")
    return (f"With {weight_dtype.upper()} weights, {model_name} does not fit on one {gpu_name}: its HBM "
            "holds no persona at all")


def enough_text(holds: int, needed: int) -> str:
    """``"enough"`` when ``holds`` personas reach the ``needed`` count, else ``"not enough"``."""
    return "enough" if holds >= needed else "not enough"


def persona_cache_home(fleet_personas: int, dram_personas: int, popular_characters: int) -> str:
    """Where a cache of ``popular_characters`` personas lives: the HBM, the DRAM, or neither (SSD)."""
    if fleet_personas >= popular_characters:
        return "fits in the GPUs' HBM itself"
    if dram_personas >= popular_characters:
        return "is a DRAM cache with character-affinity routing before it is a GPU cache"
    return "needs SSD (or more DRAM) as well: neither HBM nor DRAM holds it"


def persona_hbm_share(fleet_personas: int, popular_characters: int) -> str:
    """The fleet's HBM persona count as a multiple of the cache's ``popular_characters`` (``"0.5×"``),
    or ``"none"`` when it holds none."""
    return times(fleet_personas / popular_characters) if fleet_personas else "none"


# The fleet chapter (notebooks/fleet.ipynb): sizing, verdict, prefix reuse, latency placement, availability.
# ======================================================================================================

#: What each latency reading of the fleet chapter measures, as the prose names it.
READINGS = {"ttft_s_p95": "first token (TTFT P95)", "e2e_latency_s_p95": "whole reply (end-to-end P95)"}


def reading_name(metric: str) -> str:
    """The prose name of a latency reading (:data:`READINGS`; the metric's own name when absent)."""
    return READINGS.get(metric, metric)


def gpus_text(n: float) -> str:
    """A GPU count with its noun: ``"1 GPU"``, ``"1,234 GPUs"``."""
    return f"{n:,.0f} GPU" + ("" if round(n) == 1 else "s")


def usd_short(x: float) -> str:
    """A monthly amount in USD as the prose writes it, 3 significant digits: ``"$1.2M"`` from a million (in
    absolute value) on, else ``"$812K"``."""
    return f"${x / 1e6:,.3g}M" if abs(x) >= 1e6 else f"${x / 1e3:,.3g}K"


def price_for_saving(saving_usd: float, gpu_hours_saved: float) -> str:
    """The GPU-hour price (USD) at which ``gpu_hours_saved`` GPU-hours make ``saving_usd``, as ``"$1.23"``; when
    no GPU-hour is saved, no price does: ``"an unbounded price (no GPU-hour is saved)"``."""
    if gpu_hours_saved <= 0:
        return "an unbounded price (no GPU-hour is saved)"
    return f"${saving_usd / gpu_hours_saved:.2f}"


def sizing_sentence(last, sweep) -> str:
    """The GPUs each latency reading needs (rows of a fleet-sizing table at one session count); an infeasible
    reading quotes the P95 (s) of the lightest simulated load of ``sweep``."""
    parts = []
    for _, r in last.iterrows():
        m = r["latency_metric"]
        reading = {"ttft": "the first token", "e2e": "the whole reply"}.get(m.split("_")[0], m)
        if r["feasible"]:
            parts.append(f"{r['gpus']:,.0f} GPUs if it is {reading} ({m}: {r['sessions_per_gpu']:.2g} "
                         f"sessions per GPU)")
        else:
            lightest = float(sweep[m].iloc[0])
            parts.append(f"no number of GPUs if it is {reading} (even the lightest simulated load gives "
                         f"{lightest:.2f} s {m}; feasible = False in the table)")
    return "; ".join(parts)


def fleet_verdict(last, fleet_gpus: int) -> str:
    """The feasible GPU counts of ``last`` as multiples of the stated fleet of ``fleet_gpus`` GPUs."""
    feasible = last[last["feasible"]]
    if feasible.empty:
        return "no simulated reading reaches the target, so no number of such replicas does"
    if len(feasible) > 1:
        return (f"{times(feasible['gpus'].min() / fleet_gpus)} to {times(feasible['gpus'].max() / fleet_gpus)} the "
                f"{fleet_gpus:,} GPUs of the stated fleet")
    return f"{times(feasible['gpus'].iloc[0] / fleet_gpus)} the {fleet_gpus:,} GPUs of the stated fleet"


def gpus_by_reading(last) -> str:
    """The GPUs of each latency reading of ``last``, named by :func:`reading_name`."""
    return "; ".join(f"{r['gpus']:,.0f} GPUs if it reads the {reading_name(r['latency_metric'])}" if r["feasible"]
                     else f"no number of GPUs if it reads the {reading_name(r['latency_metric'])}"
                     for _, r in last.iterrows())


def _with_and_without(r) -> tuple[str, str, str]:
    reading = reading_name(r["latency_metric"])
    full = f"{r['gpus_full']:,.0f}" if r["feasible_full"] else "no number of"
    with_cache = f"{r['gpus_cached']:,.0f}" if r["feasible_cached"] else "no number of"
    return reading, full, with_cache


def prefix_gpus_by_reading(rows) -> str:
    """GPUs with the prefix cached against full prefill, per reading (rows of the prefix-reuse table)."""
    return "; ".join("{2} GPUs instead of {1} if it reads the {0}".format(*_with_and_without(r))
                     for _, r in rows.iterrows())


def prefix_by_reading(rows, capped, top_fraction: float) -> str:
    """:func:`prefix_gpus_by_reading` with the load a replica carries (requests/s); a row whose ``capped`` is
    true sits at the heaviest simulated load, ``top_fraction`` (0–1) of saturation, and is an upper bound."""
    parts = []
    for (_, r), cap in zip(rows.iterrows(), capped):
        reading, full, with_cache = _with_and_without(r)
        rates = (f"a replica carries {r['replica_requests_per_s_cached']:.2f} instead of "
                 f"{r['replica_requests_per_s_full']:.2f} requests/s" if r["feasible_full"] and r["feasible_cached"]
                 else "no replica meets the target" if not r["feasible_cached"] else
                 f"a replica carries {r['replica_requests_per_s_cached']:.2f} requests/s")
        note = f" (both at the heaviest simulated load, {top_fraction:.0%} of saturation: upper bounds)" if cap else ""
        parts.append(f"{with_cache} GPUs instead of {full} if it reads the {reading}: {rates}{note}")
    return "; ".join(parts)


def latency_place(group: str, stated_ms: float, minimum: float, maximum: float) -> str:
    """Where a stated round trip (ms) lies against the spread ``minimum``–``maximum`` (ms) of a user group."""
    where = ("inside" if minimum <= stated_ms <= maximum else
             "above every region" if stated_ms > maximum else "below every region")
    return f"{group.replace('_', ' ')} {stated_ms:g} ms is {where} ({minimum:.0f}–{maximum:.0f} ms)"


def latency_places(latency) -> str:
    """:func:`latency_place` for every group of the latency-by-group table, joined."""
    return "; ".join(latency_place(r["destination_group"], r["stated_ms"], r["minimum"], r["maximum"])
                     for _, r in latency.iterrows())


def regions_conclusion(cut_share: float) -> str:
    """What the regions buy, from the share (0–1) of the P95 response their round-trip cut saves."""
    return ("regions are about availability and data residency more than speed" if cut_share < 0.1
            else "the regions buy a noticeable part of the response time")


def stated_enough(buys: float, survive_extra: float) -> str:
    """Whether the GPUs the stated budget buys cover the extra GPUs of surviving a region loss."""
    return ("enough for the plain split, not to survive a region loss" if buys < survive_extra
            else "enough to survive a region loss")


def sla_met(achieved_percent: float, sla_percent: float) -> str:
    """``"meets"`` or ``"misses"``: the achieved availability against the target (both percent)."""
    return "meets" if achieved_percent >= sla_percent else "misses"


def outages_alone(outage_h: float, sla_h: float) -> str:
    """Whether the unplanned outages alone (h/year) exceed the target's downtime (h/year)."""
    return "the outages alone exceed it" if outage_h > sla_h else "the outages alone stay within it"


def regions_count(k: int, noun: str = "region", plural: str = "regions") -> str:
    """``k`` regions (or region losses) in words: ``"no region"``, ``"one region"``, ``"2 regions"``."""
    return f"no {noun}" if k == 0 else f"one {noun}" if k == 1 else f"{k} {plural}"


# The tier-configuration chapter (kareto)
# ======================================================================================================

def replica_text(n_gpus: int, gpu: str) -> str:
    """The prefill replica as the assumptions write it, e.g. ``"8 × h100-80gb (tensor parallel)"``.

    Parameters
    ----------
    n_gpus : int
        GPUs of the replica (tensor parallel when more than one).
    gpu : str
        GPU name (``data/hardware.csv``).
    """
    return f"{n_gpus} × {gpu}" + (" (tensor parallel)" if n_gpus > 1 else "")


def gpu_price_source_text(price) -> str:
    """Where the chapter's GPU price comes from: the parameters, or the price table's row.

    Parameters
    ----------
    price : model.economics.prices.GpuPrice
        The price charged (USD per GPU-hour), with ``set_by_user``, ``provider``, ``pricing`` and ``date``.
    """
    if price.set_by_user:
        return "as set in the parameters"
    return f"{price.provider} {price.pricing}, {price.date}, data/prices/gpu_prices.csv"


# --------------------------------------------------------------------------------------------------------
# The serving chapters: what the step-time model does with the chosen architecture
# --------------------------------------------------------------------------------------------------------

def serving_architecture_text(arch) -> str:
    """How the step-time model treats ``arch`` (a sentence for a chapter's assumptions): a dense model reads all
    its weights every step; an MoE model holds all of them, computes with those a token uses and reads, per decode
    step, the dense weights plus the experts its batch touches under uniform routing; layers that do not hold
    every token read what they hold. Models outside the measurements the step time was fitted on are said to be
    an extrapolation."""
    name = arch.display_name
    if arch.is_moe:
        ffn = next(layer.feed_forward for layer in arch.layers if layer.feed_forward.is_moe)
        moe_layers = sum(layer.feed_forward.is_moe for layer in arch.layers)
        text = (f"{name} is a mixture of experts ({ffn.experts_per_token} of {ffn.routed_experts} routed experts per "
                f"token in {moe_layers} of its {arch.num_layers} layers): its memory holds all "
                f"{arch.parameters() / 1e9:,.1f} B parameters, its FLOPs follow the "
                f"{arch.matmul_parameters() / 1e9:,.1f} B a token multiplies, and a decode step reads the dense "
                "weights plus the experts its batch touches (E·(1 − (1 − k/E)^B) per layer for a batch of B under "
                "uniform routing)")
    else:
        text = f"{name} is dense: every step reads all its weights"
    kinds = set(arch.layer_kinds())
    if arch.attention == "MLA":
        text += "; its KV cache is one latent per layer and token, held whole on every GPU of the group"
    elif kinds != {"full"}:
        text += (session_rule_text(arch, lead="; ", consequence=False) + ": a single decode or prefill step reads "
                 "only that, but the simulation's KV pool and its step-time coefficients count every token in every "
                 "layer, an upper bound on memory and on the KV read")
    else:
        text += "; every layer keeps every token's keys and values"
    measured = {"llama-2-70b", "llama-3-70b", "llama-3.1-70b"}
    if arch.name not in measured:
        text += (". The step time was fitted and validated on measurements of Llama 70B models only, so for this "
                 "model it is an extrapolation")
    return text + "."


def distserve_texts(comparison, *, prefill_s: float, decode_s: float) -> dict[str, str]:
    """The glued figures and sentences of the batching chapter's DistServe section, by glue name.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`model.serving.distserve_comparison.compare`: a row per ``quantity`` with ``published`` and
        ``simulated`` values and ``simulated_over_published``.
    prefill_s, decode_s : float
        The step-time model's prefill of one prompt and decode step of one sequence in the published setting, s.
    """
    by = comparison.set_index("quantity")
    sim, pub = by["simulated"], by["published"]
    single = by.loc[["prefill_only_rate", "decode_only_rate"], "simulated_over_published"]
    share_sim = sim["colocated_tpot_rate"] / sim["decode_only_rate"]
    share_pub = pub["colocated_tpot_rate"] / pub["decode_only_rate"]
    decode_bound = 2 * sim["prefill_only_rate"] >= sim["decode_only_rate"]
    gain_close = compare(sim["goodput_gain"], pub["goodput_gain"]) == "about the same as"
    spread = single.max() / single.min()
    factor = ("The two single-phase factors lie within {}% of each other, less than the colocated shares differ, "
              "so the step times do not explain that: it lies in".format(f"{100 * (spread - 1):.0f}")
              if abs(math.log(share_sim / share_pub)) > math.log(spread) else
              "The two single-phase factors differ as much as the colocated shares, so the step times may explain "
              "that; so may")
    return {
        "ds_coloc": f"{sim['colocated_goodput_per_gpu']:.1f}",
        "ds_disagg": f"{sim['disaggregated_goodput_per_gpu']:.1f}",
        "ds_gain": times(sim["goodput_gain"]),
        "ds_gain_cmp": compare(sim["goodput_gain"], pub["goodput_gain"], same="close to"),
        "ds_single_lo": times(single.min()),
        "ds_single_hi": times(single.max()),
        "ds_prefill_ms": f"{1e3 * prefill_s:.0f}",
        "ds_decode_ms": f"{1e3 * decode_s:.0f}",
        "ds_share_sim": f"{100 * share_sim:.0f}",
        "ds_share_pub": f"{100 * share_pub:.0f}",
        "ds_bound": "by its decode GPU, as in the source, so the gain is about a decode GPU's rate over three "
                    "colocated ones" if decode_bound else "by its two prefill GPUs (the source's by its decode "
                    "GPU), so the gain is about two prefill GPUs' rate over three colocated ones",
        "ds_gain_lead": "The gains agree; what sets them is the colocated GPU" if gain_close else
                        "The gain differs because of the colocated GPU",
        "ds_factor": factor,
        "ds_share_cmp": compare(share_sim, share_pub, more="less", less="more", same="as much"),
    }
