"""supervisord's XML-RPC API over its unix socket: start, stop, restart and inspect programs."""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """What supervisord says of one program."""

    name: str
    state: str
    pid: int
    description: str


class Supervisor:
    """A client of one supervisord.

    Each call opens its own connection and closes it once answered: ``ServerProxy`` is not
    thread-safe (the monitor restarts instances from threads of their own), and a connection left
    to the garbage collector is a leaked socket.
    """

    def __init__(self, socket_path: str) -> None:
        self._socket_url = f"unix://{socket_path}"

    def _call(self, method: str, *args: Any) -> Any:
        transport = SupervisorTransport(None, None, self._socket_url)
        try:
            proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
            return getattr(proxy.supervisor, method)(*args)
        finally:
            transport.close()

    def info(self, name: str) -> ProgramInfo:
        """The state and pid of program ``name``."""
        return _program(self._call("getProcessInfo", name))

    def all(self) -> list[ProgramInfo]:
        """Every program supervisord runs."""
        return [_program(raw) for raw in self._call("getAllProcessInfo")]

    def start(self, name: str, wait: bool = True) -> None:
        """Start ``name``; with ``wait``, until supervisord deems it started."""
        self._call("startProcess", name, wait)

    def stop(self, name: str, wait: bool = True) -> None:
        """Stop ``name`` (its whole process group, with the program's stop signal, then KILL)."""
        try:
            self._call("stopProcess", name, wait)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def restart(self, name: str) -> None:
        """Stop ``name`` if it runs (also if it hangs: supervisord escalates to SIGKILL), start it."""
        self.stop(name)
        self.start(name, wait=False)

    def shutdown(self) -> None:
        """Stop every program, then supervisord itself."""
        self._call("shutdown")


def _program(raw: dict[str, Any]) -> ProgramInfo:
    return ProgramInfo(
        name=str(raw["name"]),
        state=str(raw["statename"]),
        pid=int(cast(int, raw["pid"])),
        description=str(raw["description"]),
    )
