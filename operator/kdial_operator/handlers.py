"""Every kopf reaction of the operator, registered by importing this module.

`kopf run -m kdial_operator.handlers` is the whole entry point (`kdial operator` adds defaults).
The package itself imports nothing, so its other modules (the contact import's child process,
the benchmarks) load without kopf.
"""

from kdial_operator import (
    calleridpools,
    campaigns,
    contactlists,
    indexes,
    startup,
    status_metrics,
    trunkpools,
)

__all__ = [
    "calleridpools",
    "campaigns",
    "contactlists",
    "indexes",
    "startup",
    "status_metrics",
    "trunkpools",
]
