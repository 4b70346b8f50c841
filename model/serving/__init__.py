"""Serving simulation of one replica: the discrete-event simulator (:mod:`model.serving.simulation`) and the
load sweeps and run readings built on it (:mod:`model.serving.load_sweep`). Every name is re-exported here,
so ``from model.serving import simulate, sweep_load`` keeps working."""

from model.serving.load_sweep import busy_fraction_at, flops_utilization, sweep_load
from model.serving.simulation import POLICIES, Scheduler, SimResult, simulate

__all__ = ["POLICIES", "Scheduler", "SimResult", "busy_fraction_at", "flops_utilization", "simulate", "sweep_load"]
