"""SportApp's local stack: the NGINX gateway and the services under one supervisord (``sportapp``)."""
