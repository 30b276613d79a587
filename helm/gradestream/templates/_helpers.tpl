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
{{- if and (eq .Values.webhook.auth "secret") (not .Values.webhook.secretName) }}
{{- fail "webhook.auth=secret needs webhook.secretName (a Secret with key `secret`)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (hasPrefix "sqlite:" .Values.state.url) (not .Values.state.existingSecret) }}
{{- fail "replicaCount > 1 needs PostgreSQL (state.url postgres://… or state.existingSecret): SQLite is one file" }}
{{- end }}
{{- end }}
