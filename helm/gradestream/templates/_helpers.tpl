{{- define "gradestream.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{ else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{- define "gradestream.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "gradestream.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Whether the state is SQLite (one file on the volume, one replica). */}}
{{- define "gradestream.sqlite" -}}
{{- if and (hasPrefix "sqlite:" .Values.state.url) (not .Values.state.existingSecret) }}true{{ end }}
{{- end }}

{{/* Whether the sink writes to a directory (file:), on the volume. */}}
{{- define "gradestream.fileSink" -}}
{{- if and (hasPrefix "file:" .Values.sink.url) (not .Values.sink.existingSecret) }}true{{ end }}
{{- end }}

{{/* Whether anything lives in /var/lib/gradestream (the SQLite file, a file: outbox). */}}
{{- define "gradestream.data" -}}
{{- if or (include "gradestream.sqlite" .) (include "gradestream.fileSink" .) }}true{{ end }}
{{- end }}

{{/* Whether that is a persistent volume (else an emptyDir, gone with the pod). */}}
{{- define "gradestream.volume" -}}
{{- if and .Values.persistence.enabled (include "gradestream.data" .) }}true{{ end }}
{{- end }}

{{/* The claim of that volume: an existing one, or the chart's own. */}}
{{- define "gradestream.claimName" -}}
{{- .Values.persistence.existingClaim | default (include "gradestream.fullname" .) }}
{{- end }}

{{/* The image, for the service and the test pod. */}}
{{- define "gradestream.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Pods carrying this label may reach the service through the NetworkPolicy (the test pod does). */}}
{{- define "gradestream.clientLabel" -}}
{{ include "gradestream.fullname" . }}-client
{{- end }}

{{/* The Secret holding the webhook's shared secret. */}}
{{- define "gradestream.webhookSecretName" -}}
{{- .Values.webhook.secretName | default (printf "%s-webhook" (include "gradestream.fullname" .)) }}
{{- end }}

{{- define "gradestream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}{{ .Values.serviceAccount.name | default (include "gradestream.fullname" .) }}{{ else }}{{ .Values.serviceAccount.name }}{{ end }}
{{- end }}

{{/* Refuse configurations the service would run unsafely with. */}}
{{- define "gradestream.validate" -}}
{{- if and (eq .Values.webhook.auth "none") (not .Values.webhook.allowUnauthenticated) }}
{{- fail "webhook.auth=none accepts unauthenticated grade events: set webhook.allowUnauthenticated=true to really do this" }}
{{- end }}
{{- if not (has .Values.webhook.auth (list "jwt" "secret" "none")) }}
{{- fail "webhook.auth must be jwt, secret or none" }}
{{- end }}
{{- if and (eq .Values.webhook.auth "jwt") (or (not .Values.webhook.jwksUrl) (not .Values.webhook.issuer)) }}
{{- fail "webhook.auth=jwt needs webhook.jwksUrl and webhook.issuer" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (include "gradestream.sqlite" .) }}
{{- fail "replicaCount > 1 needs PostgreSQL (state.url postgres://… or state.existingSecret): SQLite is one file" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (include "gradestream.fileSink" .) (or (not .Values.persistence.enabled) (eq .Values.persistence.accessMode "ReadWriteOnce")) }}
{{- fail "replicaCount > 1 with a file: sink needs a volume every replica can write (persistence.accessMode=ReadWriteMany); or use an s3:// or https:// sink" }}
{{- end }}
{{- if and (not .Values.persistence.enabled) (include "gradestream.data" .) (not .Values.persistence.allowEphemeral) }}
{{- $what := "the file: outbox" }}
{{- if include "gradestream.sqlite" . }}{{ $what = "the SQLite state store (and its record of what was delivered)" }}{{ end }}
{{- fail (printf "persistence.enabled=false would keep %s in an emptyDir, lost whenever the pod goes: keep persistence.enabled=true (or use PostgreSQL and an s3:// or https:// sink), or set persistence.allowEphemeral=true to really do this (a demo, a test)" $what) }}
{{- end }}
{{- range .Values.schedules }}
{{- if and .reconcile (or (not $.Values.canvas.url) (not $.Values.canvas.tokenSecret)) }}
{{- fail (printf "schedule %s reconciles with Canvas: it needs canvas.url and canvas.tokenSecret (a Secret with key `token`)" .id) }}
{{- end }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to null)" }}
{{- end }}
{{- if and .Values.sources.kafka.sasl.mechanism (not .Values.sources.kafka.sasl.existingSecret) }}
{{- fail "sources.kafka.sasl.mechanism needs sources.kafka.sasl.existingSecret (a Secret with keys `username` and `password`)" }}
{{- end }}
{{- end }}
