"""costpipe's services, one package per domain, and the command line that composes them."""
