"""The JMeter plan sends the same workload as the experiment's own generator."""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sportapp_lab.jmeter.run import SAVE_PROPERTIES, SAVED_VARIABLES

PLAN = Path(__file__).resolve().parents[3] / "infra" / "jmeter" / "registration.jmx"


@pytest.fixture(scope="module")
def plan() -> ET.Element:
    return ET.parse(PLAN).getroot()  # noqa: S314 - our own plan, not untrusted input


def _prop(element: ET.Element, name: str) -> str:
    found = element.find(f"./*[@name='{name}']")
    assert found is not None, f"{element.get('testname')} has no {name}"
    return found.text or ""


def _sampler(plan: ET.Element, path: str) -> ET.Element:
    for sampler in plan.iter("HTTPSamplerProxy"):
        if _prop(sampler, "HTTPSampler.path") == path:
            return sampler
    raise AssertionError(f"no sampler for {path}")


def _children_tree(plan: ET.Element, element: ET.Element) -> ET.Element:
    """JMeter's format: every element is followed by the hashTree of its children."""
    for parent in plan.iter("hashTree"):
        children = list(parent)
        if element in children:
            following = children[children.index(element) + 1]
            assert following.tag == "hashTree"
            return following
    raise AssertionError("element not in any hashTree")


def test_every_element_is_followed_by_its_hash_tree(plan: ET.Element) -> None:
    assert plan.tag == "jmeterTestPlan"
    for tree in plan.iter("hashTree"):
        children = list(tree)
        assert [c.tag == "hashTree" for c in children] == [i % 2 == 1 for i in range(len(children))]


def test_registration_posts_a_json_body_with_correo_and_clave(plan: ET.Element) -> None:
    sampler = _sampler(plan, "/user-commands/users/register")
    body = sampler.find(".//elementProp[@elementType='HTTPArgument']/stringProp[@name='Argument.value']")
    assert body is not None
    assert body.text is not None

    # What JMeter's functions and the plan's variables would put in their place for one sample.
    variables = _registration_variables(plan, sampler)
    sample = body.text.replace("${correo}", variables["correo"].replace("${__UUID()}", str(uuid.uuid4())))
    sample = re.sub(r"\$\{__RandomString\(16,[A-Za-z0-9]+\)\}", "Ab3dEf7hJk9mNp2q", sample)
    payload = json.loads(sample)

    assert _prop(sampler, "HTTPSampler.method") == "POST"
    assert _prop(sampler, "HTTPSampler.postBodyRaw") == "true"
    assert set(payload) == {"correo", "clave"}
    assert payload["correo"].startswith("load-")
    assert payload["correo"].endswith("@sportapp-experiment.dev")
    assert len(payload["clave"]) == 16


def test_registration_sends_json_with_a_fresh_idempotency_key(plan: ET.Element) -> None:
    sampler = _sampler(plan, "/user-commands/users/register")
    children = _children_tree(plan, sampler)
    headers = {
        _prop(header, "Header.name"): _prop(header, "Header.value")
        for header in children.iter("elementProp")
        if header.get("elementType") == "Header"
    }

    assert headers == {"Content-Type": "application/json", "Idempotency-Key": "${idempotencyKey}"}
    assert _registration_variables(plan, sampler)["idempotencyKey"] == "${__UUID()}"


def _registration_variables(plan: ET.Element, sampler: ET.Element) -> dict[str, str]:
    """The User Parameters the plan sets before each registration: name -> JMeter expression."""
    parameters = _children_tree(plan, sampler).find("UserParameters")
    assert parameters is not None
    assert _prop(parameters, "UserParameters.per_iteration") == "true", "a fresh address each time"
    names = [
        name.text or ""
        for name in parameters.findall("./collectionProp[@name='UserParameters.names']/stringProp")
    ]
    values = parameters.findall("./collectionProp[@name='UserParameters.thread_values']/collectionProp")
    assert len(values) == 1, "one set of values, shared by every thread"
    return dict(zip(names, [v.text or "" for v in values[0].findall("stringProp")], strict=True))


def test_every_variable_the_jtl_carries_is_set_by_the_plan(plan: ET.Element) -> None:
    sampler = _sampler(plan, "/user-commands/users/register")
    extractors = {
        _prop(e, "RegexExtractor.refname"): e for e in _children_tree(plan, sampler).findall("RegexExtractor")
    }
    set_by_plan = set(_registration_variables(plan, sampler)) | set(extractors)

    assert set(SAVED_VARIABLES) <= set_by_plan
    user_id = extractors["userId"]
    assert _prop(user_id, "RegexExtractor.useHeaders") == "false"
    assert _prop(user_id, "RegexExtractor.default_empty_value") == "true", "no id left from a past sample"
    found = re.search(_prop(user_id, "RegexExtractor.regex"), json.dumps({"id": 42, "correo": "a@b.co"}))
    assert found is not None
    assert found.group(1) == "42"


def test_the_served_by_header_is_saved_in_the_variable_the_runner_writes_to_the_jtl(plan: ET.Element) -> None:
    sampler = _sampler(plan, "/user-commands/users/register")
    extractor = next(
        e for e in _children_tree(plan, sampler).findall("RegexExtractor")
        if _prop(e, "RegexExtractor.refname") == "servedBy"
    )

    assert _prop(extractor, "RegexExtractor.useHeaders") == "true"
    pattern = _prop(extractor, "RegexExtractor.regex").replace("(?i)", "")
    assert re.search(pattern, "X-Served-By: registro-backup")
    assert "servedBy" in SAVE_PROPERTIES["sample_variables"].split(",")


def test_reads_get_the_users_list(plan: ET.Element) -> None:
    sampler = _sampler(plan, "/user-queries/users")

    assert _prop(sampler, "HTTPSampler.method") == "GET"


def test_host_port_rate_and_duration_are_properties(plan: ET.Element) -> None:
    text = PLAN.read_text()

    for name in ("host", "port", "rate", "duration", "read_share", "threads", "read_threads"):
        assert f"${{__P({name}," in text, name
    timers = list(plan.iter("PreciseThroughputTimer"))
    assert len(timers) == 2
    assert all(_prop(t, "throughputPeriod") == "1" for t in timers)
    assert all("__P(rate," in _prop(t, "throughput") for t in timers)


def test_the_plan_writes_a_csv_jtl_with_field_names(plan: ET.Element) -> None:
    writer = next(c for c in plan.iter("ResultCollector") if c.get("guiclass") == "SimpleDataWriter")
    config = writer.find("./objProp/value")
    assert config is not None

    assert config.findtext("xml") == "false"
    assert config.findtext("fieldNames") == "true"
    assert config.findtext("url") == "true"
    assert SAVE_PROPERTIES["jmeter.save.saveservice.output_format"] == "csv"
    assert SAVE_PROPERTIES["jmeter.save.saveservice.print_field_names"] == "true"
