"""The kdial operator; its kopf handlers are registered by `kdial_operator.handlers`."""
