"""The shapes of the Kubernetes objects the operator writes, as TypedDicts of the fields it sets.

Manifests stay plain JSON for the API server (and for a hash of what was applied), while mypy
checks every key and value the operator writes against Kubernetes' schema. Keys are the wire's
camelCase. Settings that reach a manifest (resources, tolerations) are validated against the
same shapes when the operator starts, and refuse a key Kubernetes would not know.
"""

from __future__ import annotations

from typing import NotRequired

from pydantic import ConfigDict, with_config

# pydantic validates TypedDicts from typing_extensions only, on Python before 3.12.
from typing_extensions import TypedDict

#: A resource quantity: Kubernetes takes "250m", "1Gi", or a plain number.
Quantity = str | int | float


@with_config(ConfigDict(extra="forbid"))
class ResourceRequirements(TypedDict, total=False):
    requests: dict[str, Quantity]
    limits: dict[str, Quantity]


@with_config(ConfigDict(extra="forbid"))
class Toleration(TypedDict, total=False):
    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class OwnerReference(TypedDict):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: NotRequired[bool]


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]


class SecretKeySelector(TypedDict):
    name: str
    key: str


class EnvVarSource(TypedDict):
    secretKeyRef: SecretKeySelector


class EnvVar(TypedDict):
    name: str
    value: NotRequired[str]
    valueFrom: NotRequired[EnvVarSource]


class ContainerPort(TypedDict):
    name: str
    containerPort: int
    protocol: str


class HttpGet(TypedDict):
    path: str
    port: str | int


class Probe(TypedDict):
    httpGet: HttpGet
    periodSeconds: int


class Capabilities(TypedDict):
    drop: list[str]


class SecurityContext(TypedDict, total=False):
    runAsNonRoot: bool
    runAsUser: int
    runAsGroup: int
    allowPrivilegeEscalation: bool
    readOnlyRootFilesystem: bool
    capabilities: Capabilities


class ExecAction(TypedDict):
    command: list[str]


class Handler(TypedDict):
    exec: ExecAction


class Lifecycle(TypedDict):
    preStop: Handler


class VolumeMount(TypedDict):
    name: str
    mountPath: str
    readOnly: NotRequired[bool]


class Container(TypedDict, total=False):
    name: str
    image: str
    args: list[str]
    env: list[EnvVar]
    ports: list[ContainerPort]
    livenessProbe: Probe
    readinessProbe: Probe
    resources: ResourceRequirements
    securityContext: SecurityContext
    lifecycle: Lifecycle
    volumeMounts: list[VolumeMount]


class EmptyDir(TypedDict, total=False):
    medium: str
    sizeLimit: str


class KeyToPath(TypedDict):
    key: str
    path: str


class SecretProjection(TypedDict):
    name: str
    items: list[KeyToPath]


class VolumeProjection(TypedDict):
    secret: SecretProjection


class ProjectedVolumeSource(TypedDict):
    sources: list[VolumeProjection]


class Volume(TypedDict):
    name: str
    emptyDir: NotRequired[EmptyDir]
    projected: NotRequired[ProjectedVolumeSource]


class SeccompProfile(TypedDict):
    type: str


class PodSecurityContext(TypedDict):
    runAsNonRoot: bool
    seccompProfile: SeccompProfile


class PodSpec(TypedDict, total=False):
    automountServiceAccountToken: bool
    terminationGracePeriodSeconds: int
    securityContext: PodSecurityContext
    containers: list[Container]
    volumes: list[Volume]
    serviceAccountName: str
    hostNetwork: bool
    dnsPolicy: str
    nodeSelector: dict[str, str]
    tolerations: list[Toleration]


class PodTemplate(TypedDict):
    metadata: ObjectMeta
    spec: PodSpec


class LabelSelector(TypedDict):
    matchLabels: dict[str, str]


class RollingUpdate(TypedDict):
    maxUnavailable: int


class Strategy(TypedDict):
    type: str
    rollingUpdate: RollingUpdate


class DeploymentSpec(TypedDict):
    replicas: int
    selector: LabelSelector
    strategy: Strategy
    template: PodTemplate


class Deployment(TypedDict):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: DeploymentSpec


class DisruptionBudgetSpec(TypedDict):
    selector: LabelSelector
    maxUnavailable: int


class PodDisruptionBudget(TypedDict):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: DisruptionBudgetSpec


class DeploymentStatus(TypedDict, total=False):
    readyReplicas: int


class SeenMeta(TypedDict, total=False):
    annotations: dict[str, str]


class DeploymentSeen(TypedDict, total=False):
    """A Deployment as the API server returns it: the fields the operator reads back."""

    metadata: SeenMeta
    status: DeploymentStatus


class Secret(TypedDict):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    type: str
    data: dict[str, str]
    """Base64 values by key."""
