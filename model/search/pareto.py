"""Multi-objective search over KV-cache tier configurations (the method of Kareto, arXiv 2603.08739):
exact non-dominated filtering, the hypervolume indicator, an exhaustive grid and a
diminishing-returns-guided search that grows each tier while its marginal gain per dollar stays above a
threshold.

Conventions
-----------
A *configuration* is a plain ``dict`` mapping axis names to values (JSON-serialisable, so that it can be
written to a results file and sent to worker processes). An *evaluation function* maps one configuration
to a ``dict`` of objective values (see :mod:`model.search.evaluations` for the engines that call it in parallel).
Objectives are declared with their sense (``"min"`` or ``"max"``); internally every objective is turned
into one to minimise by flipping the sign of the maximised ones.

Infeasible configurations
-------------------------
A configuration whose objectives are not all finite (NaN, or an infinite cost per token when nothing is
served within the SLO) is *infeasible*: it is never on the frontier, adds no hypervolume, is left out of the
reference point and of the best-under-one-objective comparisons (:func:`finite_mask`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.parameters import default
from model.checks import ParameterError, check_choice, check_int, check_nonnegative

SENSES = ("min", "max")


@dataclass(frozen=True)
class Objective:
    """One objective of the search.

    Attributes
    ----------
    name : str
        Column of the evaluation results (a metric name of :mod:`model.metrics`).
    sense : str
        ``"min"`` (cost, latency) or ``"max"`` (throughput).
    """

    name: str
    sense: str = "min"

    def __post_init__(self):
        check_choice("sense", self.sense, SENSES)


#: Objectives of the tier-configuration search: cost, throughput at the TTFT SLO and P95 TTFT.
DEFAULT_OBJECTIVES = (
    Objective("cost_usd_per_hour", "min"),
    Objective("throughput_at_slo_rps", "max"),
    Objective("ttft_p95_s", "min"),
)


def as_minimisation(values: np.ndarray | pd.DataFrame, objectives: Sequence[Objective]) -> np.ndarray:
    """Objective values as an (n, k) float array in which every column is to be minimised.

    Parameters
    ----------
    values : array (n, k) in the order of ``objectives``, or a DataFrame holding their columns.
    objectives : the objectives and their senses.
    """
    if isinstance(values, pd.DataFrame):
        missing = [o.name for o in objectives if o.name not in values.columns]
        if missing:
            raise ParameterError("values", missing, "a table holding every objective column")
        values = values[[o.name for o in objectives]].to_numpy(dtype=float)
    points = np.array(values, dtype=float, copy=True)
    if points.ndim != 2 or points.shape[1] != len(objectives):
        raise ParameterError("values", points.shape, f"an (n, {len(objectives)}) array")
    signs = np.array([1.0 if o.sense == "min" else -1.0 for o in objectives])
    return points * signs


def finite_mask(values: np.ndarray | pd.DataFrame, objectives: Sequence[Objective] | None = None) -> np.ndarray:
    """Mask of the rows whose objective values are all finite (the feasible configurations).

    Parameters
    ----------
    values : array (n, k), or a DataFrame holding the columns of ``objectives``.
    objectives : needed when ``values`` is a DataFrame.
    """
    if isinstance(values, pd.DataFrame):
        if objectives is None:
            raise ParameterError("objectives", None, "the objectives whose columns are checked")
        values = as_minimisation(values, objectives)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ParameterError("values", values.shape, "a two-dimensional (n, k) array")
    return np.isfinite(values).all(axis=1)


# --------------------------------------------------------------------------------------------------------
# Non-dominated filtering
# --------------------------------------------------------------------------------------------------------

def non_dominated_mask(points: np.ndarray, *, block: int = 256) -> np.ndarray:
    """Mask of the points no other point dominates (all objectives minimised).

    Point ``a`` dominates ``b`` when ``a <= b`` in every objective and ``a < b`` in at least one. The
    filter is exact (every pair is compared, in blocks of ``block`` rows to bound memory); identical
    points do not dominate each other, so duplicates of a frontier point all stay. Rows holding NaN or
    ±inf (infeasible configurations) are never on the frontier.

    Parameters
    ----------
    points : array (n, k), every column to be minimised (see :func:`as_minimisation`).
    block : rows compared at once (memory ~ block × n × k booleans).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ParameterError("points", points.shape, "a two-dimensional (n, k) array")
    check_int("block", block, low=1)
    n = points.shape[0]
    valid = finite_mask(points)
    mask = valid.copy()
    candidates = points[valid]
    if n == 0 or candidates.shape[0] == 0:
        return mask
    index = np.flatnonzero(valid)
    for start in range(0, len(index), block):
        rows = candidates[start:start + block]                          # (b, k)
        le = (candidates[None, :, :] <= rows[:, None, :]).all(axis=2)   # (b, m): candidate j <= row i
        lt = (candidates[None, :, :] < rows[:, None, :]).any(axis=2)    # strictly better somewhere
        dominated = (le & lt).any(axis=1)
        mask[index[start:start + block]] = ~dominated
    return mask


def pareto_front(table: pd.DataFrame, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> pd.DataFrame:
    """Rows of ``table`` on the Pareto frontier of ``objectives`` (original order kept)."""
    return table[non_dominated_mask(as_minimisation(table, objectives))]


# --------------------------------------------------------------------------------------------------------
# Hypervolume
# --------------------------------------------------------------------------------------------------------

def _hv_recursive(points: np.ndarray, reference: np.ndarray) -> float:
    """Exact hypervolume by slicing along the last objective (points strictly inside the reference box)."""
    k = points.shape[1]
    if points.shape[0] == 0:
        return 0.0
    if k == 1:
        return float(reference[0] - points[:, 0].min())
    if k == 2:
        order = np.lexsort((points[:, 1], points[:, 0]))          # x ascending, then y ascending
        xs, ys = points[order, 0], points[order, 1]
        best_y = np.minimum.accumulate(ys)                         # lowest y reached up to each x
        next_x = np.append(xs[1:], reference[0])
        return float(np.sum((next_x - xs) * (reference[1] - best_y)))
    order = np.argsort(points[:, -1], kind="stable")
    sorted_points = points[order]
    z = sorted_points[:, -1]
    next_z = np.append(z[1:], reference[-1])
    volume = 0.0
    for i in range(len(sorted_points)):
        depth = next_z[i] - z[i]
        if depth <= 0:
            continue
        front = sorted_points[: i + 1, :-1]
        front = front[non_dominated_mask(front)]
        volume += depth * _hv_recursive(front, reference[:-1])
    return volume


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Volume of objective space dominated by ``points`` and bounded by ``reference`` (all minimised).

    Exact: slices along the last objective and computes the (k−1)-dimensional volume of each slab, down
    to a sweep of rectangles in two dimensions (O(n² log n) for three objectives). Points that do not
    strictly dominate the reference point add nothing, nor do rows that are not finite (infeasible).

    Parameters
    ----------
    points : array (n, k), every column minimised (see :func:`as_minimisation`).
    reference : the reference (worst acceptable) point, length k, in the same minimised units.

    Returns
    -------
    float, in the product of the objectives' units.
    """
    points = np.asarray(points, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if points.ndim != 2 or reference.shape != (points.shape[1],):
        raise ParameterError("reference", reference.tolist(), f"a point with {points.shape[-1]} coordinates")
    if not np.isfinite(reference).all():
        raise ParameterError("reference", reference.tolist(), "a point with finite coordinates")
    points = points[finite_mask(points)]
    points = points[(points < reference).all(axis=1)]
    if points.shape[0] == 0:
        return 0.0
    points = np.unique(points[non_dominated_mask(points)], axis=0)
    return _hv_recursive(points, reference)


def reference_point(points: np.ndarray, margin: float | None = None) -> np.ndarray:
    """A reference point just beyond the worst value of each (minimised) objective: nadir + ``margin`` ×
    range (default ``kareto_hv_reference_margin``). A zero range gets ``margin`` × |value| (or ``margin``).
    Rows that are not finite (infeasible configurations) are left out."""
    margin = default("kareto_hv_reference_margin") if margin is None else check_nonnegative("margin", margin)
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ParameterError("points", points.shape, "a two-dimensional (n, k) array")
    points = points[finite_mask(points)]
    if points.shape[0] == 0:
        raise ParameterError("points", "no finite row", "at least one feasible (finite) point")
    worst, best = points.max(axis=0), points.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0))
    return worst + margin * span


def hypervolume_ratio(found: pd.DataFrame, complete: pd.DataFrame,
                      objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                      reference: Sequence[float] | None = None) -> float:
    """Hypervolume of ``found`` ÷ hypervolume of ``complete`` with a common reference point (by default
    :func:`reference_point` of ``complete``). Invariant to rescaling any objective (units cancel).

    NaN when ``complete`` holds no feasible (finite) configuration: there is no frontier to recover."""
    complete_points = as_minimisation(complete, objectives)
    if not finite_mask(complete_points).any():
        return math.nan
    ref = reference_point(complete_points) if reference is None else np.asarray(reference, dtype=float)
    whole = hypervolume(complete_points, ref)
    if whole <= 0:
        raise ParameterError("complete", "zero hypervolume", "results dominating the reference point")
    return hypervolume(as_minimisation(found, objectives), ref) / whole


# --------------------------------------------------------------------------------------------------------
# The configuration space
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """One dimension of the configuration space.

    Attributes
    ----------
    name : str
        Key of the configuration dict.
    values : tuple
        Grid values. For a *growth* axis they are sorted ascending and each step up buys more of a
        resource (capacity, retention time) at a higher or equal cost.
    growth : bool
        True for capacity-like axes that the diminishing-returns search grows; False for categorical
        axes (eviction policy) that it enumerates.
    """

    name: str
    values: tuple
    growth: bool = True

    def __post_init__(self):
        if not self.values:
            raise ParameterError(f"axis {self.name}", self.values, "at least one value")
        if len(set(self.values)) != len(self.values):
            raise ParameterError(f"axis {self.name}", self.values, "distinct values")
        if self.growth and list(self.values) != sorted(self.values):
            raise ParameterError(f"axis {self.name}", self.values, "values sorted ascending (a growth axis)")


@dataclass(frozen=True)
class SearchSpace:
    """The grid of configurations: the product of its axes' values."""

    axes: tuple[Axis, ...]

    def __post_init__(self):
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ParameterError("axes", names, "distinct axis names")

    @property
    def size(self) -> int:
        """Number of configurations of the exhaustive grid."""
        return math.prod(len(a.values) for a in self.axes)

    def grid(self) -> list[dict]:
        """Every configuration, in a fixed order (the last axis varies fastest)."""
        names = [a.name for a in self.axes]
        return [dict(zip(names, combo)) for combo in itertools.product(*(a.values for a in self.axes))]

    def config_at(self, index: Sequence[int]) -> dict:
        """The configuration at grid indices ``index`` (one per axis)."""
        return {a.name: a.values[i] for a, i in zip(self.axes, index)}


# --------------------------------------------------------------------------------------------------------
# Diminishing-returns-guided search
# --------------------------------------------------------------------------------------------------------

def performance_gain(before: dict, after: dict, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> float:
    """Relative improvement of the best performance objective (every objective except the first, the
    cost) from ``before`` to ``after``: max over objectives of (improvement ÷ |value before|), ≥ 0 when
    anything improves, negative when everything gets worse."""
    gains = []
    for o in objectives[1:]:
        b, a = float(before[o.name]), float(after[o.name])
        if not (math.isfinite(a) and math.isfinite(b)):
            gains.append(math.inf if math.isfinite(a) and not math.isfinite(b) else 0.0)
            continue
        scale = abs(b) if b != 0 else max(abs(a), 1e-12)
        gains.append(((a - b) if o.sense == "max" else (b - a)) / scale)
    return max(gains)


def marginal_elasticity(before: dict, after: dict,
                        objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> float:
    """Marginal gain per dollar, made unit-free: relative performance gain ÷ relative cost increase.

    +inf when performance improves at no extra cost; −inf when it gets worse at no saving. The first
    objective is the cost (minimised)."""
    gain = performance_gain(before, after, objectives)
    cost_name = objectives[0].name
    c0, c1 = float(before[cost_name]), float(after[cost_name])
    extra = (c1 - c0) / abs(c0) if c0 != 0 else (math.inf if c1 > 0 else 0.0)
    if extra <= 0:
        return math.inf if gain > 0 else (0.0 if gain == 0 else -math.inf)
    return gain / extra


@dataclass
class GuidedSearchResult:
    """Outcome of :func:`diminishing_returns_search`.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per evaluated configuration (axes + objectives), in evaluation order.
    path : list[dict]
        The configurations the search stepped through, per categorical combination, in order.
    knees : list[dict]
        Where each walk stopped (the last configuration whose step paid off).
    """

    results: pd.DataFrame
    path: list[dict] = field(default_factory=list)
    knees: list[dict] = field(default_factory=list)

    @property
    def evaluations(self) -> int:
        return len(self.results)


def diminishing_returns_search(space: SearchSpace, evaluate_many: Callable[[list[dict]], pd.DataFrame],
                               objectives: Sequence[Objective] = DEFAULT_OBJECTIVES, *,
                               threshold: float | None = None, beam: int | None = None) -> GuidedSearchResult:
    """Grow the configuration one tier step at a time while the step pays for itself.

    For every combination of the categorical axes, start from the smallest value of every growth axis.
    At each step, evaluate the configurations one grid step up along each growth axis (a batch, so the
    engine evaluates them in parallel) and move to the one with the highest marginal elasticity
    (relative performance gain ÷ relative cost increase, :func:`marginal_elasticity`). Stop when no step
    reaches ``threshold``: beyond that knee more capacity buys too little for its price, so the rest of
    the grid above it is pruned. With ``beam`` > 1 the best ``beam`` steps are followed at each round
    (a wider path, more evaluations).

    Parameters
    ----------
    space : the grid (growth axes ascending; categorical axes enumerated).
    evaluate_many : evaluates a list of configurations, returns one row per configuration holding the
        axes and the objectives (e.g. ``functools.partial(model.search.evaluations.run_sweep, evaluate=...)``).
    objectives : the first is the cost; the others are the performance objectives.
    threshold : minimum elasticity of a worthwhile step (default ``kareto_min_elasticity``).
    beam : number of best steps followed per round (default ``kareto_search_beam``).

    Returns
    -------
    GuidedSearchResult
    """
    threshold = default("kareto_min_elasticity") if threshold is None else check_nonnegative("threshold",
                                                                                             threshold)
    beam = int(default("kareto_search_beam")) if beam is None else check_int("beam", beam, low=1)
    growth = [i for i, a in enumerate(space.axes) if a.growth]
    categorical = [i for i, a in enumerate(space.axes) if not a.growth]
    evaluated: dict[tuple, dict] = {}
    order: list[tuple] = []

    def run(indices: list[tuple]) -> None:
        todo = [ix for ix in dict.fromkeys(indices) if ix not in evaluated]
        if not todo:
            return
        table = evaluate_many([space.config_at(ix) for ix in todo])
        if len(table) != len(todo):
            raise ParameterError("evaluate_many", len(table), f"one row per configuration ({len(todo)})")
        for ix, (_, row) in zip(todo, table.iterrows()):
            evaluated[ix] = row.to_dict()
            order.append(ix)

    path, knees = [], []
    cat_values = [range(len(space.axes[i].values)) for i in categorical]
    for combo in itertools.product(*cat_values):
        start = [0] * len(space.axes)
        for i, v in zip(categorical, combo):
            start[i] = v
        frontier = [tuple(start)]
        run(frontier)
        path.append(space.config_at(frontier[0]))
        while frontier:
            steps = []
            for ix in frontier:
                for g in growth:
                    if ix[g] + 1 < len(space.axes[g].values):
                        up = list(ix)
                        up[g] += 1
                        steps.append((ix, tuple(up)))
            run([up for _, up in steps])
            scored = sorted(((marginal_elasticity(evaluated[a], evaluated[b], objectives), b)
                             for a, b in steps), key=lambda t: -t[0])
            chosen = [b for e, b in scored if e >= threshold]
            chosen = list(dict.fromkeys(chosen))[:beam]
            if not chosen:
                knees.extend(space.config_at(ix) for ix in frontier)
                break
            path.extend(space.config_at(ix) for ix in chosen)
            frontier = chosen
    rows = [evaluated[ix] for ix in order]
    return GuidedSearchResult(pd.DataFrame(rows).reset_index(drop=True), path, knees)


def best_under_objective(table: pd.DataFrame, objective: Objective) -> pd.Series | None:
    """The row that is best on one objective (ties broken by the row order); rows whose value is not
    finite are skipped; ``None`` if no row has a finite value."""
    values = table[objective.name].to_numpy(dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    values = np.where(finite, values, np.inf if objective.sense == "min" else -np.inf)
    i = int(np.argmin(values) if objective.sense == "min" else np.argmax(values))
    return table.iloc[i]


def headline_comparisons(table: pd.DataFrame, baseline: dict,
                         objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                         axes: Sequence[str] | None = None) -> pd.DataFrame:
    """Best improvement over ``baseline`` under each objective separately (Kareto's three headlines).

    For each objective, the feasible configuration of ``table`` (every objective finite,
    :func:`finite_mask`) best on that objective alone, and its change against the baseline's value in %
    (positive = better: higher throughput, lower latency or cost).

    The change is NaN (and ``comparable`` False) when it has no meaning: no feasible configuration, or a
    baseline that is infeasible (any objective not finite) or zero on that objective (a relative change
    from 0 is undefined).
    """
    names = axes if axes is not None else [k for k in table.columns if k not in {ob.name for ob in objectives}]
    feasible = table[finite_mask(table, objectives)] if len(table) else table
    base_ok = all(math.isfinite(float(baseline[o.name])) for o in objectives)
    rows = []
    for o in objectives:
        best = best_under_objective(feasible, o) if len(feasible) else None
        b = float(baseline[o.name])
        v = float(best[o.name]) if best is not None else math.nan
        comparable = best is not None and base_ok and b != 0
        if comparable:
            change = (v - b) / abs(b) * 100 if o.sense == "max" else (b - v) / abs(b) * 100
        else:
            change = math.nan
        rows.append({"objective": o.name, "sense": o.sense, "baseline": b, "best": v,
                     "improvement_percent": change, "comparable": comparable,
                     **{k: (best[k] if best is not None else math.nan) for k in names}})
    return pd.DataFrame(rows)


def evaluations_table(exhaustive: pd.DataFrame, pruned: pd.DataFrame,
                      objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> pd.DataFrame:
    """Evaluations needed and frontier recovered: exhaustive grid vs diminishing-returns search.

    ``feasible`` counts the configurations with every objective finite; with none on the grid the
    hypervolume ratios are NaN (nothing to recover)."""
    ratio = hypervolume_ratio(pruned, exhaustive, objectives)
    n_ex, n_pr = len(exhaustive), len(pruned)
    front_ex = pareto_front(exhaustive, objectives)
    any_feasible = bool(finite_mask(exhaustive, objectives).any()) if n_ex else False
    return pd.DataFrame([
        {"search": "exhaustive grid", "evaluations": n_ex,
         "feasible": int(finite_mask(exhaustive, objectives).sum()) if n_ex else 0,
         "frontier_points": len(front_ex), "hypervolume_ratio": 1.0 if any_feasible else math.nan,
         "evaluation_reduction": 1.0},
        {"search": "diminishing-returns pruned", "evaluations": n_pr,
         "feasible": int(finite_mask(pruned, objectives).sum()) if n_pr else 0,
         "frontier_points": len(pareto_front(pruned, objectives)), "hypervolume_ratio": ratio,
         "evaluation_reduction": n_ex / n_pr if n_pr else math.inf},
    ])


def as_configs(items: Iterable[dict]) -> list[dict]:
    """Copies of configuration dicts with NumPy scalars turned into Python numbers (JSON-safe)."""
    out = []
    for item in items:
        out.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in item.items()})
    return out
