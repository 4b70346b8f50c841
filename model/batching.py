"""``python -m model.batching predict ...``: the command line of :mod:`model.batching_cli` (README, "Predicting
one serving configuration"). This module defines and re-exports nothing: the batching concepts live in their
own modules (:mod:`model.step_time`, :mod:`model.request_stream`, :mod:`model.saturation`,
:mod:`model.rate_bounds`, :mod:`model.calibration`; the simulation in :mod:`model.serving`).
"""

if __name__ == "__main__":
    from model.batching_cli import main

    raise SystemExit(main())
