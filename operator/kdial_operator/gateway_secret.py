"""A TrunkPool's gateways Secret: the credentials read from each trunk's `authSecretRef`, the
pool compiled into the sofia include file (`kdial.gateways`), and the Secret applied.

A trunk whose credentials cannot be read (the Secret or a key is missing, or a value could
change the switch's configuration) is left out of the file, and the routing table gives it no
weight: the switch would answer a call to a gateway it does not know with INVALID_GATEWAY.
Messages name the Secret and the key, never a value; nothing here logs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from kdial import gateways
from kdial.api.kinds import API_VERSION, TRUNK_POOL
from kdial.api.trunkpool import Trunk
from kdial.gateways import Credentials
from kdial.state import gateways as contract
from kdial_operator.kube import Kube, Refused
from kdial_operator.manifests import Secret

CREDENTIALS_MISSING = "CredentialsMissing"
NOT_APPLIED = "GatewaysNotApplied"


@dataclass(frozen=True)
class Applied:
    """What the pool's switches are given: the generation in the Secret, the trunks left out,
    and why the pool is not Ready (reason, message) when something is amiss."""

    generation: str = ""
    unconfigured: frozenset[str] = frozenset()
    problem: tuple[str, str] | None = field(default=None)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    """Each gateway's fingerprint in that generation (`contract.fingerprints`)."""


async def refresh(
    kube: Kube, namespace: str, pool: str, uid: str, trunks: list[Trunk], *, last: Applied | None
) -> Applied:
    """Reads the credentials, compiles the pool's gateways and applies the Secret. When the API
    server refuses the Secret, the switches keep the last one: `last`, with the refusal."""
    credentials, problems = await _credentials(kube, namespace, trunks)
    kept = [t for t in trunks if t.gateway is None or t.name not in problems]
    xml = gateways.compile_gateways(kept, credentials)
    generation = contract.generation_of(xml)
    try:
        await kube.apply_secret(manifest(namespace, pool, uid, xml, generation))
    except Refused as refused:
        message = f"the API server refused Secret {contract.secret_name(pool)}: {refused}"
        if last is None:
            return Applied(problem=(NOT_APPLIED, message))
        return replace(last, problem=(NOT_APPLIED, message))
    problem = (CREDENTIALS_MISSING, "; ".join(problems.values())) if problems else None
    return Applied(generation, frozenset(problems), problem, contract.fingerprints(xml))


def manifest(namespace: str, pool: str, uid: str, xml: str, generation: str) -> Secret:
    """The Secret holding the pool's gateways, owned by the TrunkPool (deleted with it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": contract.secret_name(pool),
            "namespace": namespace,
            "labels": contract.SECRET_LABELS,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": TRUNK_POOL.kind,
                    "name": pool,
                    "uid": uid,
                    # Not blockOwnerDeletion: nothing needs the pool kept until the Secret is
                    # gone, and it would take an RBAC grant on trunkpools/finalizers.
                    "controller": True,
                }
            ],
        },
        "type": "Opaque",
        "data": {
            contract.XML_KEY: _b64(xml),
            contract.GENERATION_KEY: _b64(generation),
        },
    }


async def _credentials(
    kube: Kube, namespace: str, trunks: list[Trunk]
) -> tuple[dict[str, Credentials], dict[str, str]]:
    """Each gateway trunk's account by trunk name, and each trunk's problem by trunk name."""
    found: dict[str, Credentials] = {}
    problems: dict[str, str] = {}
    secrets: dict[str, dict[str, str] | None] = {}
    for trunk in trunks:
        ref = trunk.gateway.auth_secret_ref if trunk.gateway else None
        if ref is None:
            continue
        if ref.name not in secrets:
            secrets[ref.name] = await kube.secret_texts(namespace, ref.name)
        data = secrets[ref.name]
        if data is None:
            problems[trunk.name] = f"trunk {trunk.name}: Secret {ref.name} is missing"
            continue
        try:
            username = _text(data, ref.name, ref.username_key)
            password = _text(data, ref.name, ref.password_key)
        except _Unusable as unusable:
            problems[trunk.name] = f"trunk {trunk.name}: {unusable}"
            continue
        found[trunk.name] = Credentials(username, password)
    return found, problems


class _Unusable(Exception):
    """A credential that cannot be used; the message names its Secret and key."""


def _text(data: dict[str, str], secret: str, key: str) -> str:
    value = data.get(key)
    why = "is missing (or not UTF-8 text)" if value is None else gateways.problem(value)
    if why or value is None:
        raise _Unusable(f"key {key} of Secret {secret} {why}")
    return value


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
