"""Settings every test shares.

Hypothesis: CI runs on two busy cores, often with another worker of this suite
beside it, so generating inputs can be slow through no fault of the code under
test. The ``nodechat`` profile turns off the per-example deadline and the
"too slow" health checks; everything that checks correctness stays on.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "nodechat",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
    print_blob=True,
)
settings.load_profile("nodechat")
