"""AWS Cost and Usage Reports: manifests, discovery and conversion."""
