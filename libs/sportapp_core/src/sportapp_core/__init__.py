"""SportApp's user-registration core: the domain, its use cases and the adapters to the outside world.

The dependency rule: ``adapters`` -> ``services`` -> ``domain``. Only ``adapters`` and ``schemas``
import third-party frameworks; a test in ``tests/unit`` keeps it that way.
"""
