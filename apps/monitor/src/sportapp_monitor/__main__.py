"""``python -m sportapp_monitor``: the same as the ``sportapp-monitor`` command."""

from sportapp_monitor.cli import main

main()
