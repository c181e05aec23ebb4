{{/* Names, labels and the pieces gateway and worker share. */}}
{{- define "vigil.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "vigil.selector" (list . "gateway") */}}
{{- define "vigil.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "vigil.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "vigil.pseudonymSecret" -}}
{{- .Values.pseudonymKey.existingSecret | default (printf "%s-pseudonym-key" (include "vigil.fullname" .)) -}}
{{- end -}}

{{- define "vigil.kafkaSecret" -}}
{{- .Values.kafka.credentials.existingSecret | default (printf "%s-kafka-credentials" (include "vigil.fullname" .)) -}}
{{- end -}}

{{- define "vigil.sasl" -}}
{{- has .Values.kafka.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}
{{- end -}}

{{- define "vigil.tls" -}}
{{- has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") -}}
{{- end -}}

{{/* The environment of every Vigil container: include "vigil.env" (list . "gateway") */}}
{{- define "vigil.env" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $v := $root.Values -}}
- name: VIGIL_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required: the brokers' host:port list" $v.kafka.bootstrap | quote }}
- name: VIGIL_KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if eq (include "vigil.sasl" $root) "true" }}
- name: VIGIL_KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.saslMechanism | quote }}
- name: VIGIL_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "vigil.kafkaSecret" $root }}
      key: {{ $role }}-username
- name: VIGIL_KAFKA_SASL_PASSWORD_FILE
  value: /etc/vigil/kafka-credentials/{{ $role }}-password
{{- end }}
{{- if and (eq (include "vigil.tls" $root) "true") $v.kafka.ca.existingSecret }}
- name: VIGIL_KAFKA_CA
  value: /etc/vigil/kafka-ca/{{ $v.kafka.ca.key }}
{{- end }}
- name: VIGIL_PARTITIONS
  value: {{ $v.kafka.partitions | quote }}
- name: VIGIL_REPLICATION_FACTOR
  value: {{ $v.kafka.replicationFactor | quote }}
- name: VIGIL_PSEUDONYM_KEY_FILE
  value: /etc/vigil/pseudonym/{{ $v.pseudonymKey.key }}
- name: VIGIL_HOME
  value: /var/lib/vigil
# The device registry (vigil.devices) and patient directory (vigil.patients) on Kafka: no shared disk.
- name: VIGIL_REGISTRY
  value: kafka
- name: VIGIL_LOG_FORMAT
  value: json
{{- end -}}

{{/* Volumes every Vigil pod has (Secrets, /tmp, VIGIL_HOME): include "vigil.volumes" (list . "gateway") */}}
{{- define "vigil.volumes" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $v := $root.Values -}}
- name: pseudonym-key
  secret:
    secretName: {{ include "vigil.pseudonymSecret" $root }}
    defaultMode: 0400
    items:
      - key: {{ $v.pseudonymKey.key }}
        path: {{ $v.pseudonymKey.key }}
{{- if eq (include "vigil.sasl" $root) "true" }}
- name: kafka-credentials
  secret:
    secretName: {{ include "vigil.kafkaSecret" $root }}
    defaultMode: 0400
    items:
      - key: {{ $role }}-password
        path: {{ $role }}-password
{{- end }}
{{- if and (eq (include "vigil.tls" $root) "true") $v.kafka.ca.existingSecret }}
- name: kafka-ca
  secret:
    secretName: {{ $v.kafka.ca.existingSecret }}
    items:
      - key: {{ $v.kafka.ca.key }}
        path: {{ $v.kafka.ca.key }}
{{- end }}
- name: tmp
  emptyDir: {}
# VIGIL_HOME: nothing in it outlives the pod (the worker's RocksDB is its own volume, at worker/).
- name: home
  emptyDir: {}
{{- end -}}

{{- define "vigil.volumeMounts" -}}
{{- $root := index . 0 -}}
{{- $v := $root.Values -}}
- name: pseudonym-key
  mountPath: /etc/vigil/pseudonym
  readOnly: true
{{- if eq (include "vigil.sasl" $root) "true" }}
- name: kafka-credentials
  mountPath: /etc/vigil/kafka-credentials
  readOnly: true
{{- end }}
{{- if and (eq (include "vigil.tls" $root) "true") $v.kafka.ca.existingSecret }}
- name: kafka-ca
  mountPath: /etc/vigil/kafka-ca
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /var/lib/vigil
{{- end -}}

{{- define "vigil.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- /* Egress both components need: DNS, and the brokers' client ports. */}}
{{- define "vigil.egress" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- ports:
    {{- range .Values.networkPolicy.kafka.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
  {{- with .Values.networkPolicy.kafka.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
