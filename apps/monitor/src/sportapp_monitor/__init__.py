"""SportApp's monitor: ping/echo on registro, failover by NGINX upstream swap, restart, failback."""
