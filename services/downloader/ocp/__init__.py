"""OpenShift: koku-metrics-operator payloads, their manifest and report files."""
