"""Finding a usable JMeter, and the command line it is run with (a fake jmeter stands in)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sportapp_lab.jmeter.jtl import read_jtl
from sportapp_lab.jmeter.run import (
    JMeterFailed,
    JMeterUnavailable,
    find_jmeter,
    parse_jmeter_version,
    run_jmeter,
)

BANNER_5 = r"""    _    ____   _    ____ _   _ _____       _ __  __ _____ _____ _____ ____
   / \  |  _ \ / \  / ___| | | | ____|     | |  \/  | ____|_   _| ____|  _ \
  / _ \ | |_) / _ \| |   | |_| |  _|    _  | | |\/| |  _|   | | |  _| | |_) |
 / ___ \|  __/ ___ \ |___|  _  | |___  | |_| | |  | | |___  | | | |___|  _ <
/_/   \_\_| /_/   \_\____|_| |_|_____|  \___/|_|  |_|_____| |_| |_____|_| \_\ 5.6.3

Copyright (c) 1999-2024 The Apache Software Foundation
"""
JTL = (
    "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,"
    "bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect,servedBy\n"
    "1700000000000,35,register,201,Created,registrations 1-1,text,true,,312,420,10,12,"
    "http://127.0.0.1:8080/user-commands/users/register,34,0,1,registro-primary\n"
)


def _fake_jmeter(folder: Path, version_output: str, *, write_jtl: bool = True) -> Path:
    """A `jmeter` script: prints ``version_output`` for --version, else records its arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "banner.txt").write_text(version_output)
    (folder / "results.csv").write_text(JTL)
    copy = 'cp "$here/results.csv" "$out"' if write_jtl else "exit 1"
    script = folder / "jmeter"
    script.write_text(
        "#!/bin/sh\n"
        'here=$(dirname "$0")\n'
        'if [ "$1" = "--version" ]; then cat "$here/banner.txt"; exit 0; fi\n'
        'printf "%s\\n" "$@" > "$here/args.txt"\n'
        'while [ $# -gt 0 ]; do if [ "$1" = "-l" ]; then out="$2"; fi; shift; done\n'
        f"{copy}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Put nothing but a given folder on PATH (and a JAVA_HOME, which the fake does not need)."""

    def use(folder: Path) -> None:
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
        monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    return use


@pytest.mark.parametrize(
    ("output", "version"),
    [
        (BANNER_5, "5.6.3"),
        ("OpenJDK 64-Bit Server VM warning: Options -Xverify 17.0.2 deprecated\n5.4.1\n", "5.4.1"),
        ("Copyright (c) 1998-2015 Apache Software Foundation\nVersion 2.13 r1665067\n", "2.13"),
        ("Error: could not find or load main class\n", None),
    ],
)
def test_the_version_is_read_from_the_banner(output: str, version: str | None) -> None:
    assert parse_jmeter_version(output) == version


def test_no_jmeter_on_path_says_what_to_install(only, tmp_path: Path) -> None:
    only(tmp_path / "empty")

    with pytest.raises(JMeterUnavailable, match=r"`jmeter` is not on PATH.*JMeter 5\.x"):
        find_jmeter()


def test_debians_old_jmeter_is_refused(only, tmp_path: Path) -> None:
    _fake_jmeter(tmp_path / "bin", "Version 2.13 r1665067\n")
    only(tmp_path / "bin")

    with pytest.raises(JMeterUnavailable, match=r"JMeter 2\.13.*5\.x"):
        find_jmeter()


def test_jmeter_5_is_run_headless_with_the_properties_and_its_jtl_is_returned(only, tmp_path: Path) -> None:
    _fake_jmeter(tmp_path / "bin", BANNER_5)
    only(tmp_path / "bin")
    plan = tmp_path / "plan.jmx"
    plan.write_text("<jmeterTestPlan/>")

    jtl = run_jmeter(plan, tmp_path / "out", "127.0.0.1", 8080, 25, 30.5)

    args = (tmp_path / "bin" / "args.txt").read_text().splitlines()
    assert args[:4] == ["-n", "-t", str(plan), "-l"]
    assert jtl == tmp_path / "out" / "results.jtl"
    for expected in ("-Jhost=127.0.0.1", "-Jport=8080", "-Jrate=25", "-Jduration=31",
                     "-Jjmeter.save.saveservice.print_field_names=true",
                     "-Jsample_variables=correo,idempotencyKey,userId,servedBy"):
        assert expected in args
    assert read_jtl(jtl)[0].served_by == "registro-primary"


def test_a_jmeter_run_without_results_is_an_error(only, tmp_path: Path) -> None:
    _fake_jmeter(tmp_path / "bin", BANNER_5, write_jtl=False)
    only(tmp_path / "bin")

    with pytest.raises(JMeterFailed, match="exited 1"):
        run_jmeter(tmp_path / "plan.jmx", tmp_path / "out", "127.0.0.1", 8080, 10, 1)
