"""HTTP clients for the calls between services: pooled sessions, explicit timeouts, request ids."""
