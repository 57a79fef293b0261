"""Solver glue, and the only place that imports a solver.

``lp`` (HiGHS linear programs), ``milp`` (the network as a Pyomo / SCIP mixed-integer program),
``smt`` (z3 over the exact reals). Everything else asks these modules; the trusted base
(:mod:`verishallow.exact` and the checkers in :mod:`verishallow.proofs`) never imports them.
"""
