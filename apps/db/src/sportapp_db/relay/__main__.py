"""``python -m sportapp_db.relay``."""

from sportapp_db.relay import main

main()
