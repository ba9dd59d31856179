"""The kdial operator. Importing this package registers every handler: `kopf run -m kdial_operator`."""

from kdial_operator import campaigns, contactlists, indexes, pools, startup

__all__ = ["campaigns", "contactlists", "indexes", "pools", "startup"]
