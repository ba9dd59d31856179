{{/* Names */}}

{{- define "kdial.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kdial.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kdial.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kdial.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "kdial.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The agent API's own ServiceAccount (it reads tokens and campaigns, nothing else), or the
user's when the chart creates none. */}}
{{- define "kdial.apiServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-api" (include "kdial.fullname" .) }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels */}}

{{/* Labels every object of the chart carries. */}}
{{- define "kdial.commonLabels" -}}
helm.sh/chart: {{ include "kdial.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the CRDs, whose generated manifests carry app.kubernetes.io/part-of already. */}}
{{- define "kdial.crdLabels" -}}
{{ include "kdial.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of objects that belong to no one component. */}}
{{- define "kdial.labels" -}}
{{ include "kdial.crdLabels" . }}
app.kubernetes.io/name: {{ include "kdial.name" . }}
app.kubernetes.io/part-of: kdial
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "operator") */}}
{{- define "kdial.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kdial.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "kdial.componentLabels" -}}
{{ include "kdial.commonLabels" .ctx }}
app.kubernetes.io/part-of: kdial
{{ include "kdial.selectorLabels" . }}
{{- end }}

{{/* Images */}}

{{/* repository:tag (or @digest) of (dict "image" .Values.image "ctx" $) */}}
{{- define "kdial.image" -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ default .ctx.Chart.AppVersion .image.tag }}
{{- end -}}
{{- end }}

{{/* Secrets */}}

{{/* The Secret (key `url`) with the Redis URL: the user's, or the chart's. */}}
{{- define "kdial.redisSecretName" -}}
{{- if .Values.redis.external.existingSecret }}
{{- .Values.redis.external.existingSecret }}
{{- else }}
{{- printf "%s-redis" (include "kdial.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Secret (key `password`) with the Event Socket password: the user's, or the chart's. */}}
{{- define "kdial.eslSecretName" -}}
{{- default (printf "%s-esl" (include "kdial.fullname" .)) .Values.worker.esl.existingSecret }}
{{- end }}

{{/* Namespaces where campaigns run and worker pods need the chart's Secrets. */}}
{{- define "kdial.secretNamespaces" -}}
{{- toJson (uniq (prepend .Values.watchNamespaces .Release.Namespace)) }}
{{- end }}

{{- define "kdial.redisHost" -}}
{{- printf "%s-redis.%s.svc" (include "kdial.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Monitoring objects need the Prometheus Operator's API, unless the check is skipped. */}}
{{- define "kdial.monitoringApi" -}}
{{- if or .Values.monitoring.skipApiCheck (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}true{{ end }}
{{- end }}

{{/* Values the schema cannot check on its own, with messages a person can act on. */}}
{{- define "kdial.validate" -}}
{{- $sources := 0 }}
{{- if .Values.redis.bundled.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.redis.external.url }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.redis.external.existingSecret }}{{ $sources = add1 $sources }}{{ end }}
{{- if ne (int $sources) 1 }}
{{- fail "redis: set exactly one of redis.bundled.enabled, redis.external.url and redis.external.existingSecret" }}
{{- end }}
{{- if gt (int .Values.worker.rtpPortRange.start) (int .Values.worker.rtpPortRange.end) }}
{{- fail "worker.rtpPortRange: start must not exceed end" }}
{{- end }}
{{- include "kdial.validateWatchNamespaces" . }}
{{- end }}

{{/* Each watched namespace must exist before the install, which would otherwise fail halfway,
at its first Role or Secret there. Checked only against a cluster: `lookup` finds nothing in
`helm template` or a client-side dry run, and the cluster always has some namespace. */}}
{{- define "kdial.validateWatchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- $cluster := lookup "v1" "Namespace" "" "" }}
{{- if $cluster }}
{{- $existing := list }}
{{- range $cluster.items }}
{{- $existing = append $existing .metadata.name }}
{{- end }}
{{- range .Values.watchNamespaces }}
{{- if not (has . $existing) }}
{{- fail (printf "watchNamespaces: namespace %q does not exist; create it first (kubectl create namespace %s) or remove it from watchNamespaces" . .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The bundled Redis's configuration: kdial's durability rests on these lines. */}}
{{- define "kdial.redisConfig" -}}
# Written by the kdial chart.
port 6379
dir /data
# Every write goes to the append-only file, fsynced every second: a crash loses at most about
# a second of queue operations (two when the disk stalls).
appendonly yes
appendfsync everysec
# A full Redis refuses writes; it never evicts a contact, a lease or a counter.
maxmemory {{ .Values.redis.bundled.maxmemory }}
maxmemory-policy noeviction
include /etc/redis/auth/redis-auth.conf
{{- end }}
