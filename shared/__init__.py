"""The common library of costpipe's services: events, topics, runtime, storage and admin."""
