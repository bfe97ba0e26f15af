"""SportApp's operations tooling, shared by the monitor, the stack and the lab and by no service:
NGINX's included upstream and admission files and its reload (``nginx``), supervisord's API
(``supervisor``), and the monitor's event log (``event_log``). Nothing here knows of users or
registrations; the registration core (``sportapp_core``) knows nothing of this."""
