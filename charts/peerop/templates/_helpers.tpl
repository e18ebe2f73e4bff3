{{/* Names and labels shared by the templates. */}}
{{- define "peerop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "peerop.selectorLabels" -}}
app.kubernetes.io/name: peerop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "peerop.labels" -}}
{{ include "peerop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: peerop
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "peerop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "peerop.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "peerop.watchNamespace" -}}
{{- if eq .Values.watchNamespace "*" -}}
{{- else -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs on what it runs, and nothing more. */}}
{{- define "peerop.rules" -}}
- apiGroups: ["peerop.io"]
  resources: ["httpservers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["peerop.io"]
  resources: ["httpservers/status"]
  verbs: ["patch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
{{- end -}}

{{/* The operator's metrics Service: <fullname>-metrics. */}}
{{- define "peerop.metricsServiceName" -}}
{{- printf "%s-metrics" (include "peerop.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels the operator puts on every server pod (examples/operator/operator.h). */}}
{{- define "peerop.serverLabels" -}}
app.kubernetes.io/name: peerop-server
app.kubernetes.io/managed-by: peerop-operator
{{- end -}}

{{/* The test pod's label, which the servers' NetworkPolicy admits. */}}
{{- define "peerop.pingCheckLabels" -}}
peerop.io/ping-check: "true"
{{- end -}}

{{/* The server image the operator defaults to: serverImage, else the release's. */}}
{{- define "peerop.serverImage" -}}
{{- .Values.serverImage | default (printf "peerop-server:%s" .Chart.AppVersion) -}}
{{- end -}}
