"""The admission file the monitor rewrites as db comes and goes, with a fake NGINX."""

from __future__ import annotations

from pathlib import Path

from sportapp_monitor.admission import GatewayAdmission
from sportapp_ops.event_log import EventLog, read_events
from sportapp_ops.nginx import read_admission, render_admission
from tests.conftest import REPO

TEMPLATE = REPO / "infra" / "nginx" / "registro-admission.conf.j2"


class FakeNginx:
    """Installs files as replace_config does (after `nginx -t`, here always accepted); counts reloads."""

    def __init__(self) -> None:
        self.reloads = 0

    def replace_config(self, path: Path, content: str) -> None:
        path.write_text(content)

    def reload(self) -> None:
        self.reloads += 1


def test_the_file_says_whether_posts_are_counted_and_is_read_back() -> None:
    bounded = render_admission(TEMPLATE, bounded=True)
    unbounded = render_admission(TEMPLATE, bounded=False)

    assert 'POST "registrations-$registro_generation";' in bounded
    assert "POST" not in unbounded.split("map", 1)[1]
    assert "# sportapp-admission bounded=yes" in bounded
    assert "# sportapp-admission bounded=no" in unbounded


def test_every_change_is_written_and_reloaded_even_when_the_file_already_says_so(tmp_path: Path) -> None:
    # A monitor killed between writing the file and the reload left NGINX with the other admission:
    # the file is not trusted to say what NGINX runs.
    nginx, path = FakeNginx(), tmp_path / "registro-admission.conf"
    path.write_text(render_admission(TEMPLATE, bounded=True))
    admission = GatewayAdmission(
        nginx=nginx,  # type: ignore[arg-type]
        template=TEMPLATE,
        admission_file=path,
        events=EventLog(tmp_path / "events.jsonl"),
    )

    admission.set_bounded(True, reason="db up")
    admission.set_bounded(False, reason="db down (refused): restarting")
    unbounded_on_disk = read_admission(path)
    admission.set_bounded(True, reason="db up")

    assert nginx.reloads == 3
    assert unbounded_on_disk is False
    assert read_admission(path) is True
    events = [(e["event"], e["reason"]) for e in read_events(tmp_path / "events.jsonl")]
    assert events == [
        ("admission_bounded", "db up"),
        ("admission_unbounded", "db down (refused): restarting"),
        ("admission_bounded", "db up"),
    ]
