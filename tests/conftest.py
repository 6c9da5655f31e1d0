"""Hypothesis profiles for the test suite.

- ``default``: Hypothesis's own (100 examples), used locally.
- ``ci``: Hypothesis's built-in profile, loaded by Hypothesis itself whenever ``CI`` is
  set (derandomized, no deadline, no example database). We do not override it.
- ``dev``: quick local iterations: ``pytest --hypothesis-profile=dev``.
- ``mutation``: 20 derandomized examples, so every mutant sees the same inputs and a
  run over all the mutants takes about 15 minutes on two cores
  (``nox -s mutation`` selects it).
"""

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=20, deadline=None)
# mutmut calls the same test methods from several runner instances; that is not flakiness.
settings.register_profile(
    "mutation",
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.differing_executors],
)
