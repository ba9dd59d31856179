"""The kdial operator. Importing this package registers every handler.

`kopf run -m kdial_operator` is the whole entry point (`kdial operator` adds defaults).
"""

from kdial_operator import campaigns, contactlists, indexes, pools, startup

__all__ = ["campaigns", "contactlists", "indexes", "pools", "startup"]
