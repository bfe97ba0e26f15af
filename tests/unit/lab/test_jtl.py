"""JMeter's CSV results (JTL) become request records."""

from __future__ import annotations

from pathlib import Path

import pytest

from sportapp_lab.jmeter.jtl import JTLFormatError, classify_response_code, read_jtl

# JMeter 5's default CSV columns, in its order, with print_field_names=true.
HEADER = (
    "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,"
    "bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect"
)
BASE = "http://127.0.0.1:8080"
ROWS = [
    f"1700000000000,35,register,201,Created,registrations 1-1,text,true,,312,420,10,12,"
    f"{BASE}/user-commands/users/register,34,0,1",
    f"1700000000050,12,read users,200,OK,reads 2-1,text,true,,900,150,2,12,"
    f"{BASE}/user-queries/users?limit=5,12,0,0",
    "1700000000100,3,register,Non HTTP response code: org.apache.http.conn.HttpHostConnectException,"
    '"Non HTTP response message: Connect to 127.0.0.1:8080 [/127.0.0.1] failed: Connection refused",'
    f"registrations 1-2,text,false,,2109,0,10,12,{BASE}/user-commands/users/register,0,0,3",
    "1700000000150,10001,register,Non HTTP response code: java.net.SocketTimeoutException,"
    "Non HTTP response message: Read timed out,registrations 1-3,text,false,,2000,420,10,12,"
    f"{BASE}/user-commands/users/register,0,0,1",
    f"1700000000200,8,register,503,Service Unavailable,registrations 1-4,text,false,,300,420,10,12,"
    f"{BASE}/user-commands/users/register,8,0,0",
    "1700000000250,2,read users,Non HTTP response code: java.net.ConnectException,"
    "Non HTTP response message: Connection refused,reads 2-2,text,false,,1800,0,2,12,"
    f"{BASE}/user-queries/users?limit=5,0,0,2",
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "results.jtl"
    path.write_text(text)
    return path


def test_samples_become_records_with_statuses_and_transport_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")

    records = read_jtl(path, mono_minus_unix=-1_699_999_000.0)

    assert [r.kind for r in records] == ["register", "read", "register", "register", "register", "read"]
    assert [r.status for r in records] == [201, 200, None, None, 503, None]
    assert [r.error for r in records] == [None, None, "connection", "timeout", None, "connection"]
    assert [r.ok for r in records] == [True, True, False, False, False, False]
    first = records[0]
    assert first.t_unix == 1_700_000_000.0
    assert first.scheduled_at == first.sent_at == pytest.approx(1000.0)
    assert first.latency_ms == 35.0
    assert first.served_by is None
    assert records[3].latency_ms == 10001.0


def test_a_served_by_column_saved_as_a_sample_variable_is_read(tmp_path: Path) -> None:
    rows = [
        "1700000000000,35,register,201,Created,true,registro-primary",
        "1700000000100,40,register,201,Created,true,registro-backup",
        "1700000000200,2,register,502,Bad Gateway,false,none",
    ]
    path = _write(tmp_path, "timeStamp,elapsed,label,responseCode,responseMessage,success,servedBy\n"
                  + "\n".join(rows))

    records = read_jtl(path, mono_minus_unix=0.0)

    assert [r.served_by for r in records] == ["registro-primary", "registro-backup", None]
    assert [r.kind for r in records] == ["register"] * 3  # from the label: there is no URL column


def test_samples_that_are_neither_registrations_nor_reads_are_skipped(tmp_path: Path) -> None:
    row = f"1700000000000,5,warm-up,200,OK,setUp 1-1,text,true,,1,1,1,1,{BASE}/health,5,0,0"
    path = _write(tmp_path, "\n".join([HEADER, row, ROWS[0]]))

    assert len(read_jtl(path)) == 1


def test_a_headerless_jtl_is_refused_with_the_property_that_fixes_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join(ROWS))

    with pytest.raises(JTLFormatError, match="print_field_names=true"):
        read_jtl(path)


def test_an_xml_jtl_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '<?xml version="1.0" encoding="UTF-8"?>\n<testResults version="1.2">\n')

    with pytest.raises(JTLFormatError, match="output_format=csv"):
        read_jtl(path)


def test_formatted_timestamps_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{HEADER}\n2024/01/01 10:00:00.000,{ROWS[0].split(',', 1)[1]}\n")

    with pytest.raises(JTLFormatError, match="timestamp_format=ms"):
        read_jtl(path)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("201", "", (201, None)),
        ("Non HTTP response code: org.apache.http.NoHttpResponseException", "", (None, "connection")),
        ("Non HTTP response code: java.net.SocketException", "Connection reset", (None, "connection")),
        ("Non HTTP response code: org.apache.http.conn.ConnectTimeoutException", "", (None, "timeout")),
        ("Non HTTP response code: java.lang.IllegalStateException", "boom", (None, "IllegalStateException")),
    ],
)
def test_response_codes_are_classified(
    code: str, message: str, expected: tuple[int | None, str | None]
) -> None:
    assert classify_response_code(code, message) == expected


# The same columns, with the plan's sample_variables appended as JMeter appends them: one column per
# variable, named after it, after JMeter's own (runner.SAVED_VARIABLES, in that order).
HEADER_WITH_VARIABLES = HEADER + ",correo,idempotencyKey,userId,servedBy"
ROWS_WITH_VARIABLES = [
    ROWS[0] + ",load-0b5c@sportapp-experiment.dev,5e1f0c2a-key-1,17,registro-primary",
    ROWS[1] + ",null,null,null,null",  # a read: its thread never set the variables
    ROWS[2] + ",load-77aa@sportapp-experiment.dev,5e1f0c2a-key-2,,none",  # refused connection
    ROWS[4] + ",load-9c01@sportapp-experiment.dev,5e1f0c2a-key-3,,registro-backup",  # 503
]


def test_saved_variables_give_each_registration_its_address_key_id_and_instance(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join([HEADER_WITH_VARIABLES, *ROWS_WITH_VARIABLES]) + "\n")

    records = read_jtl(path, mono_minus_unix=0.0)

    assert [r.kind for r in records] == ["register", "read", "register", "register"]
    assert [r.email for r in records] == [
        "load-0b5c@sportapp-experiment.dev", None,
        "load-77aa@sportapp-experiment.dev", "load-9c01@sportapp-experiment.dev",
    ]
    assert [r.idempotency_key for r in records] == [
        "5e1f0c2a-key-1", None, "5e1f0c2a-key-2", "5e1f0c2a-key-3",
    ]
    assert [r.user_id for r in records] == ["17", None, None, None]
    assert [r.served_by for r in records] == ["registro-primary", None, None, "registro-backup"]


def test_the_runner_saves_every_variable_this_reader_reads() -> None:
    from sportapp_lab.jmeter import jtl
    from sportapp_lab.jmeter.run import SAVE_PROPERTIES, SAVED_VARIABLES

    assert SAVE_PROPERTIES["sample_variables"].split(",") == list(SAVED_VARIABLES)
    assert {jtl.EMAIL_COLUMN, jtl.KEY_COLUMN, jtl.USER_ID_COLUMN, "servedBy"} == set(SAVED_VARIABLES)
