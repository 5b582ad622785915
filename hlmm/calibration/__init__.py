"""hlmm.calibration: learning strategy parameters from what actually happened.

Offline (``hlmm calibrate``):

* :mod:`~hlmm.calibration.tradefile` reads a trade history of any supported kind
  (:mod:`~hlmm.calibration.uicsv`, :mod:`~hlmm.calibration.jsonfills`) into a
  :class:`~hlmm.calibration.fills.FillTable`;
* :mod:`~hlmm.calibration.analysis` measures edge by coin, size and hour with
  cluster-robust intervals (:mod:`~hlmm.calibration.stats`, :mod:`~hlmm.calibration.groups`),
  round trips (:mod:`~hlmm.calibration.roundtrips`), maker/taker (:mod:`~hlmm.calibration.fees`)
  and what filters would have done (:mod:`~hlmm.calibration.scenarios`);
* :mod:`~hlmm.calibration.recommend` turns that into config values with evidence,
  :mod:`~hlmm.calibration.report` and :mod:`~hlmm.calibration.plots` show it.

Online (the engine): :mod:`~hlmm.calibration.store` keeps predictions made at quote time
under the tag carried in each order's cloid, scores them as fills, cancels and markouts
arrive (:mod:`~hlmm.calibration.scores`; the fill model by observed/expected fills over every
order's time at risk, :mod:`~hlmm.calibration.survival`), tracks where fills lose
(:mod:`~hlmm.calibration.profitability`) and saves what it learned at exit
(:mod:`~hlmm.calibration.learned`), which ``hlmm calibrate --merge`` reads.
"""
