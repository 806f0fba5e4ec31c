"""The cost-model service: cost models and their application to OpenShift usage."""
