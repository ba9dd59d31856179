{{/*
The operator's permissions, rule by rule: "Framework:" rules are what kopf itself needs,
"Application:" rules what kdial's handlers do. Only the verbs used, no wildcards, and Secrets
only read by name, never listed or watched; the only ones written are the pools' gateways.
*/}}

{{/* Cluster-scoped: always granted by a ClusterRole. */}}
{{- define "kdial.rbac.discoveryRules" -}}
# Framework: discovering the resources it serves, and noticing CRDs appear, change or go.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end }}

{{/* Granted cluster-wide (all namespaces) or per watched namespace. */}}
{{- define "kdial.rbac.namespacedRules" -}}
# Framework: Events on the objects it handles (kopf posts core v1 Events).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# Framework: Events through the events.k8s.io API, which newer kopf versions use.
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
# Application: watching the four kinds; patching their finalizers and kopf's progress annotations.
- apiGroups: [kdial.io]
  resources: [campaigns, trunkpools, calleridpools, contactlists]
  verbs: [list, watch, patch]
# Application: writing their status (conditions, progress, trunk health).
- apiGroups: [kdial.io]
  resources: [campaigns/status, trunkpools/status, calleridpools/status, contactlists/status]
  verbs: [patch]
# Application: the worker Deployment of each campaign (owned by the campaign), written by
# server-side apply (patch; create when it is absent).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, create, patch, delete]
# Application: the workers' PodDisruptionBudget (owned by the campaign), so a node drain
# evicts one worker at a time; written by server-side apply.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [create, patch]
# Application: the Deployment's owner reference blocks the campaign's deletion until it is gone
# (blockOwnerDeletion), which clusters enforcing OwnerReferencesPermissionEnforcement (OpenShift
# among them) allow only to those who may update the owner's finalizers.
- apiGroups: [kdial.io]
  resources: [campaigns/finalizers]
  verbs: [update]
# Application: contact lists and caller-ID numbers read from ConfigMaps named in specs.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
# Application: Secrets read by name: the one a ContactList's URL source names (authSecretRef),
# and those worker pods read, so that a missing one shows on the Campaign instead of leaving
# its pods unable to start.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# Application: each TrunkPool's gateways (kdial-gateways-<pool>, owned by the pool), the sofia
# configuration worker pods mount, written by server-side apply (patch; create when it is
# absent). It holds the carriers' passwords: a Secret, never a ConfigMap.
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, patch]
{{- end }}

{{/* The agent API's permissions: it reads, by name, what a request names. */}}
{{- define "kdial.rbac.apiRules" -}}
# Application: the namespace's agent tokens, one Secret read by name.
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [kdial-agent-tokens]
  verbs: [get]
# Application: the campaign an agent logs in to (its mode, dispositions, contact list) and the
# list's display fields.
- apiGroups: [kdial.io]
  resources: [campaigns, contactlists]
  verbs: [get]
{{- end }}
