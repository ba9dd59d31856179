"""The callee's network: which mobile network a number belongs to, as a short, stable key.

Line health keeps counts per (trunk, callee network) pair (`kdial.routing.destinations`), so
the key must be bounded: it is derived only from the number's region and the carrier
phonenumbers names for its range (``China Unicom`` -> ``cn-china-unicom``), whose list is
finite and ships with the library; a number without a known carrier (landlines, unknown
ranges) is `UNKNOWN`. The region is not split further (provinces): a carrier that loses its
route to one network loses it for the whole network, and thinner pairs would need more calls to
judge.
"""

from __future__ import annotations

import re

__all__ = ["UNKNOWN", "network_of"]

UNKNOWN = "unknown"

# Keys are DNS-label-like: they appear in counter field names (no "|"), status and Events.
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_MAX_LENGTH = 48


def network_of(region: str, carrier: str) -> str:
    """The network key of a number in ``region`` (ISO 3166-1, e.g. ``CN``) whose range was
    allocated to ``carrier`` (phonenumbers' English name, "" when it names none)."""
    slug = _NOT_KEY.sub("-", carrier.casefold()).strip("-")
    if not slug:
        return UNKNOWN
    prefix = _NOT_KEY.sub("", region.casefold())
    key = f"{prefix}-{slug}" if prefix else slug
    return key[:_MAX_LENGTH].rstrip("-")
