"""Which addresses the operator may fetch a contact list from (pure).

A ContactList's URL is written by whoever may edit ContactLists in a namespace, and the
operator fetches it from inside the cluster: left open, that is a way to make the operator read
its cloud's metadata service, the cluster's Services or anything on its own loopback. So by
default only https URLs on public addresses are fetched. Internal networks are refused unless
the operator's settings allow-list them (`KDIAL_SOURCE_ALLOWED_NETWORKS`, the chart's
`operator.contactSources.allowedNetworks`), and plain http is fetched only from an allow-listed
network, one the cluster's admin trusts the path to.

The rules are networks, and the most specific network that holds an address decides (as a
routing table does): allow-listing 10.0.0.0/8 for a file server still refuses the cluster's
Service range 10.96.0.0/12 inside it, while allow-listing 10.96.4.2/32 lets that one Service
through. An allow-listed network wins a tie with a refused one of the same size.

The verdict is on the resolved address, which the caller must be the one to connect to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Networks refused whatever the cluster, each with what it is.
REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local (cloud metadata) address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", "a link-local address"),
    ("ff00::/8", "a multicast address"),
)
_CLUSTER = "an address of the cluster's own networks"


@dataclass(frozen=True)
class Rule:
    network: IPNetwork
    allows: bool
    #: What an address in the network is, as a message says it ("a loopback address").
    what: str


@dataclass(frozen=True)
class SourcePolicy:
    """The operator's settings for URL sources: networks allowed although internal (and over
    plain http), and the cluster's own ranges, refused even inside a wider allowed network."""

    allowed: tuple[IPNetwork, ...] = ()
    cluster: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, allowed: Iterable[str] = (), cluster: Iterable[str] = ()) -> SourcePolicy:
        return cls(
            tuple(ipaddress.ip_network(n) for n in allowed),
            tuple(ipaddress.ip_network(n) for n in cluster),
        )

    def rules(self) -> list[Rule]:
        rules = [Rule(ipaddress.ip_network(net), False, what) for net, what in REFUSED]
        rules += [Rule(net, False, _CLUSTER) for net in self.cluster]
        rules += [Rule(net, True, "an allow-listed address") for net in self.allowed]
        return rules


@dataclass(frozen=True)
class Refusal:
    """Why an address was refused: the rule's words and its network (None for plain http)."""

    what: str
    network: IPNetwork | None = None

    def __str__(self) -> str:
        if self.network is None:
            return self.what
        return f"{self.what} ({self.network})"


def verdict(address: str | IPAddress, policy: SourcePolicy, *, plain_http: bool) -> Refusal | None:
    """None when a list may be fetched from `address` (over plain http when `plain_http`),
    otherwise which rule refuses it."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 is 127.0.0.1 to the socket that connects to it.
        ip = ip.ipv4_mapped
    rule = decisive_rule(ip, policy)
    if rule is not None and not rule.allows:
        return Refusal(rule.what, rule.network)
    if plain_http and rule is None:
        return Refusal("not allow-listed for plain http")
    return None


def decisive_rule(ip: IPAddress, policy: SourcePolicy) -> Rule | None:
    """The most specific rule whose network holds `ip` (an allowing one wins a tie); None for
    a public address no rule names."""
    holding = [rule for rule in policy.rules() if ip in rule.network]
    if not holding:
        return None
    return max(holding, key=lambda rule: (rule.network.prefixlen, rule.allows))
