"""The sources service: sources and providers, their creation, status and deletion."""
