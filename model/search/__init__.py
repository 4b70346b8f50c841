"""Search over configurations: Pareto filtering and hypervolume, the diminishing-returns search, the evaluation runner and the tier-configuration evaluator."""
