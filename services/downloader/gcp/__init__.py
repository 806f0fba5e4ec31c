"""GCP billing exports saved as files in a bucket: discovery and conversion."""
