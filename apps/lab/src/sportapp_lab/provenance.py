"""What a run records of the software it ran on, so that a report says what produced it."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from sportapp_stack.config import find_nginx


def software_versions() -> dict[str, Any]:
    """The versions a report names: Python, NGINX, the packages that serve or drive a registration,
    and the machine's cores."""
    packages = ["sportapp-core", "flask", "flask-restful", "marshmallow", "sqlalchemy", "gunicorn",
                "argon2-cffi", "aiohttp", "supervisor"]
    found: dict[str, Any] = {"python": platform.python_version(), "nginx": _nginx_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    found["cpus"] = os.cpu_count()
    return found


def _nginx_version() -> str | None:
    try:
        result = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return None
    return result.stderr.strip().split("/")[-1] or None
