{{/* Chart name. */}}
{{- define "intercom-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "intercom-stream.fullname" -}}
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

{{- define "intercom-stream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "intercom-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "intercom-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "intercom-stream.labels" -}}
helm.sh/chart: {{ include "intercom-stream.chart" . }}
{{ include "intercom-stream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: intercom-stream
{{- end }}

{{- define "intercom-stream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "intercom-stream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "intercom-stream.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A setting with the worker's default when values.config does not set it. */}}
{{- define "intercom-stream.setting" -}}
{{- $v := index .root.Values.config .name }}
{{- if kindIs "invalid" $v }}{{ .default }}{{ else }}{{ $v }}{{ end }}
{{- end }}

{{- define "intercom-stream.webPort" -}}
{{- include "intercom-stream.setting" (dict "root" . "name" "web_port" "default" 6066) | int }}
{{- end }}

{{- define "intercom-stream.dataDir" -}}
{{- include "intercom-stream.setting" (dict "root" . "name" "data_dir" "default" "/tmp/intercom-stream") }}
{{- end }}

{{- define "intercom-stream.partitions" -}}
{{- include "intercom-stream.setting" (dict "root" . "name" "partitions" "default" 4) | int }}
{{- end }}

{{/*
values.config rendered as "INTERCOM_STREAM_<NAME>: value" lines (sorted, nulls dropped).
Whole numbers are printed without an exponent (YAML numbers arrive as float64).
*/}}
{{- define "intercom-stream.configData" -}}
{{- range $name, $value := .Values.config }}
{{- if not (kindIs "invalid" $value) }}
{{- $text := toString $value }}
{{- if kindIs "float64" $value }}
{{- if eq $value (float64 (int64 $value)) }}{{ $text = toString (int64 $value) }}{{ end }}
{{- else if or (kindIs "map" $value) (kindIs "slice" $value) }}
{{- $text = toJson $value }}
{{- end }}
{{ printf "INTERCOM_STREAM_%s" (upper $name) }}: {{ $text | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "intercom-stream.tokenSecretName" -}}
{{- if .Values.intercom.existingSecret }}{{ .Values.intercom.existingSecret }}{{ else }}{{ include "intercom-stream.fullname" . }}{{ end }}
{{- end }}

{{- define "intercom-stream.tokenSecretKey" -}}
{{- if .Values.intercom.existingSecret }}{{ .Values.intercom.existingSecretKey }}{{ else }}intercom-token{{ end }}
{{- end }}

{{- define "intercom-stream.saslSecretKey" -}}
{{- if .Values.kafka.sasl.existingSecret }}{{ .Values.kafka.sasl.existingSecretKey }}{{ else }}sasl-password{{ end }}
{{- end }}

{{/* True ("true") when the chart creates the Secret holding token / SASL password. */}}
{{- define "intercom-stream.createSecret" -}}
{{- if or (not .Values.intercom.existingSecret) (and .Values.kafka.sasl.enabled (not .Values.kafka.sasl.existingSecret)) }}true{{ end }}
{{- end }}

{{/* Fails rendering with a clear message on inconsistent values. Included by every template. */}}
{{- define "intercom-stream.validate" -}}
{{- $i := .Values.intercom }}
{{- if and $i.existingSecret $i.token }}
{{- fail "intercom: set only one of intercom.token and intercom.existingSecret (the Intercom access token)" }}
{{- end }}
{{- if not (or $i.existingSecret $i.token) }}
{{- fail "intercom: the Intercom access token is required: set intercom.existingSecret (an existing Secret, key intercom.existingSecretKey) or intercom.token (the chart creates a Secret)" }}
{{- end }}
{{- $s := .Values.kafka.sasl }}
{{- if $s.enabled }}
{{- if and $s.existingSecret $s.password }}
{{- fail "kafka.sasl: set only one of kafka.sasl.password and kafka.sasl.existingSecret" }}
{{- end }}
{{- if not (or $s.existingSecret $s.password) }}
{{- fail "kafka.sasl: enabled needs the SASL password: set kafka.sasl.existingSecret (key kafka.sasl.existingSecretKey) or kafka.sasl.password" }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.tls.enabled (not .Values.kafka.tls.existingSecret) }}
{{- fail "kafka.tls: enabled needs kafka.tls.existingSecret (a Secret with the CA and optional client certificate/key)" }}
{{- end }}
{{- if and .Values.kafka.tls.enabled (ne (empty .Values.kafka.tls.certKey) (empty .Values.kafka.tls.keyKey)) }}
{{- fail "kafka.tls: set both certKey and keyKey (mutual TLS) or neither" }}
{{- end }}
{{- range $secret := list "intercom_token" "sasl_password" }}
{{- if hasKey $.Values.config $secret }}
{{- fail (printf "config.%s: secrets do not belong in config (a ConfigMap): use intercom.* / kafka.sasl.*" $secret) }}
{{- end }}
{{- end }}
{{- if and .Values.persistence.enabled (eq (include "intercom-stream.dataDir" . | clean) "/tmp") }}
{{- fail "persistence: config.data_dir must be a folder of its own (not /tmp) to hold the pod's volume" }}
{{- end }}
{{- if lt (include "intercom-stream.webPort" . | int) 1 }}
{{- fail "config.web_port: must be > 0 in Kubernetes (probes, Service and metrics use the web server)" }}
{{- end }}
{{- end }}

{{/*
Kafka credentials of worker and topics-job containers (not in the ConfigMap).
Call with (dict "root" $ "saslSecretName" <name of the chart-created Secret to read when no existingSecret>).
*/}}
{{- define "intercom-stream.kafkaEnv" -}}
{{- $root := .root }}
{{- if $root.Values.kafka.sasl.enabled }}
- name: INTERCOM_STREAM_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.kafka.sasl.existingSecret | default .saslSecretName }}
      key: {{ include "intercom-stream.saslSecretKey" $root }}
{{- end }}
{{- with $root.Values.kafka.tls }}
{{- if .enabled }}
{{- if .caKey }}
- name: INTERCOM_STREAM_SSL_CAFILE
  value: {{ printf "%s/%s" .mountPath .caKey | quote }}
{{- end }}
{{- if .certKey }}
- name: INTERCOM_STREAM_SSL_CERTFILE
  value: {{ printf "%s/%s" .mountPath .certKey | quote }}
- name: INTERCOM_STREAM_SSL_KEYFILE
  value: {{ printf "%s/%s" .mountPath .keyKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "intercom-stream.tlsVolume" -}}
{{- with .Values.kafka.tls }}
{{- if .enabled }}
- name: kafka-tls
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      {{- range $key := list .caKey .certKey .keyKey }}
      {{- if $key }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "intercom-stream.tlsVolumeMount" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  mountPath: {{ .Values.kafka.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The workers' kind: a StatefulSet (a volume per pod) with persistence, else a Deployment. */}}
{{- define "intercom-stream.workloadKind" -}}
{{- if .Values.persistence.enabled }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{- define "intercom-stream.tmpVolumes" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpSizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- if and (ne (include "intercom-stream.dataDir" . | clean) "/tmp") (not .Values.persistence.enabled) }}
- name: data
  emptyDir:
    {{- with .Values.dataSizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end }}
{{- end }}

{{- define "intercom-stream.tmpVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if ne (include "intercom-stream.dataDir" . | clean) "/tmp" }}
- name: data
  mountPath: {{ include "intercom-stream.dataDir" . }}
{{- end }}
{{- end }}
