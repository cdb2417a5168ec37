"""``necessity serve`` as a client sees it: a real server process on loopback, a real HTTP client.

Every test runs against both logs: SQLite (a file) and PostgreSQL (a private
cluster, tests/pgcluster.py; Debian's ``postgresql`` package must be installed,
as ``.ci/run`` does).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from pgcluster import Cluster, free_port

ROOT = Path(__file__).resolve().parents[2]
FUSION = ROOT / "tests" / "data" / "pas-request-multilevel-fusion.json"
CLI = [sys.executable, "-m", "engine.cli"]
RECORD = "X-Necessity-Record"
DECISION_TIME = "NECESSITY_DECISION_TIME"  # explain's time of decision; the server dates by its clock without it
REVIEW = "https://codesystem.x12.org/005010/306"  # X12 review action codes: A1 certified, A4 pended
MEMBER_SYSTEM = "http://example.org/MIN"
NPI = ("http://hl7.org/fhir/sid/us-npi", "8189991234")
SUBMITTER = "clinic-token-0123456789abcdef"  # all scopes
PORTAL = "portal-token-0123456789abcdef"  # given as sha256:, inquire only


# ---------------------------------------------------------------------------
# the server and its database
# ---------------------------------------------------------------------------


class Server:
    """``necessity serve`` in a child process, its stderr in a file."""

    def __init__(self, folder: Path, database: str, *extra: str, verify: str | bool = True):
        self.folder, self.database, self.extra, self.verify = folder, database, extra, verify
        self.process: subprocess.Popen | None = None
        self.stderr = folder / "server.err"

    def start(self) -> "Server":
        self.port = free_port()
        self.url = f"{'https' if '--tls-cert' in self.extra else 'http'}://127.0.0.1:{self.port}"
        with self.stderr.open("ab") as err:
            env = {k: v for k, v in os.environ.items() if k != DECISION_TIME}  # dated by the clock, as deployed
            self.process = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--database", self.database,
                                             *self.extra], cwd=self.folder, stdout=err, stderr=err,
                                            env={**env, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server stopped (exit {self.process.returncode}):\n{self.stderr.read_text()}")
            try:
                if httpx.get(f"{self.url}/metadata", timeout=2, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the server did not answer within 120 s:\n{self.stderr.read_text()}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


@pytest.fixture(scope="session")
def cluster():
    try:
        with Cluster() as pg:
            yield pg
    except FileNotFoundError as exc:  # .ci/run installs it; a developer without it is told why
        if os.environ.get("CI"):
            pytest.fail(f"{exc}: .ci/run installs it, and CI never skips the PostgreSQL tests")
        pytest.skip(f"{exc} (apt-get install -y postgresql) to run the PostgreSQL tests")


_databases = iter(range(10**6))


def new_database(kind: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if kind == "sqlite":
        return str(folder / f"log-{next(_databases)}.sqlite")
    return request.getfixturevalue("cluster").database(f"necessity_{os.getpid()}_{next(_databases)}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    """A server with tokens, on a fresh log of each kind."""
    folder = tmp_path_factory.mktemp(f"serve-{request.param}")
    tokens = folder / "tokens.txt"
    tokens.write_text(f"# the clinic may do everything\n{SUBMITTER} id=clinic\n\n"
                      f"sha256:{hashlib.sha256(PORTAL.encode()).hexdigest()} inquire id=portal  # the portal only asks\n")
    server = Server(folder, new_database(request.param, request, folder), "--tokens", str(tokens)).start()
    yield server
    server.stop()


def auth(token: str = SUBMITTER) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------


def fusion(member: str, claim: str, drop: tuple[str, ...] = ()) -> dict:
    """The hand-written request with its own patient member id and Claim identifier; ``drop``: QuestionnaireResponse
    items left out (not documented)."""
    bundle = json.loads(FUSION.read_text())
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = claim
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                            "code": "MB"}]}, "system": MEMBER_SYSTEM, "value": member}]
        if resource["resourceType"] == "QuestionnaireResponse":
            resource["item"] = [i for i in resource["item"] if i["linkId"] not in drop]
    return bundle


def update_of(original: dict, member: str, claim: str) -> dict:
    """A PAS Claim Update of ``original`` with the full documentation: related.claim names the original Claim,
    which is included in the Bundle (PAS spec-65)."""
    bundle = fusion(member, claim)
    before = copy.deepcopy(original["entry"][0])
    before["fullUrl"] = "http://example.org/fhir/Claim/OriginalRequest"
    before["resource"]["id"] = "OriginalRequest"
    update = bundle["entry"][0]["resource"]
    update["related"] = [{"claim": {"reference": before["fullUrl"]}}]
    bundle["entry"].append(before)
    return bundle


def inquiry(member: str, npi: tuple[str, str] = NPI) -> dict:
    """A PAS inquiry Bundle: the inquiry's own trace number, the patient by member id, the provider by NPI."""
    url = "http://example.org/fhir/"
    return {
        "resourceType": "Bundle", "type": "collection", "timestamp": "2025-12-01T10:00:00Z",
        "identifier": {"system": "http://example.org/SUBMITTER_TRANSACTION_IDENTIFIER", "value": "INQ-1"},
        "entry": [
            {"fullUrl": url + "Claim/Inquiry", "resource": {
                "resourceType": "Claim", "identifier": [{"system": "http://example.org/TRACE", "value": "INQ-111"}],
                "status": "active", "use": "preauthorization", "created": "2025-12-01T10:00:00Z",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
                "patient": {"reference": "Patient/Member"}, "insurer": {"reference": "Organization/Payer"},
                "provider": {"reference": "Organization/Clinic"},
                "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
                "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/Plan"}}],
                "item": [{"sequence": 1, "productOrService": {"coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-applicable"}]}}]}},
            {"fullUrl": url + "Patient/Member", "resource": {"resourceType": "Patient", "id": "Member", "identifier": [
                {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]},
                 "system": MEMBER_SYSTEM, "value": member}]}},
            {"fullUrl": url + "Organization/Clinic", "resource": {"resourceType": "Organization", "id": "Clinic",
                                                                  "identifier": [{"system": npi[0], "value": npi[1]}]}},
            {"fullUrl": url + "Organization/Payer", "resource": {"resourceType": "Organization", "id": "Payer",
                                                                 "name": "Payer"}},
            {"fullUrl": url + "Coverage/Plan", "resource": {"resourceType": "Coverage", "id": "Plan", "status": "active",
                                                            "beneficiary": {"reference": "Patient/Member"},
                                                            "payor": [{"reference": "Organization/Payer"}]}},
        ],
    }


def explained(bundle: dict, folder: Path, decided: str) -> str:
    """What ``necessity explain --format fhir`` prints for the bundle, decided at ``decided``."""
    path = folder / f"bundle-{hashlib.sha256(json.dumps(bundle).encode()).hexdigest()[:12]}.json"
    path.write_text(json.dumps(bundle, indent=1))
    done = subprocess.run([*CLI, "explain", str(path), "--format", "fhir"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, DECISION_TIME: decided})
    assert done.returncode == 0, done.stderr
    return done.stdout


def review_codes(response: dict) -> dict[int, set[str]]:
    """Per item sequence, the X12 review action codes its adjudication carries (wherever the extension puts them)."""
    def codes(value) -> set[str]:
        if isinstance(value, dict):
            found = {value["code"]} if value.get("system") == REVIEW and "code" in value else set()
            return found.union(*(codes(v) for v in value.values()))
        if isinstance(value, list):
            return set().union(*(codes(v) for v in value))
        return set()

    claim_response = response["entry"][0]["resource"]
    return {item["itemSequence"]: codes(item.get("adjudication")) for item in claim_response["item"]}


def submit(server: Server, bundle, token: str | None = SUBMITTER, **kwargs) -> httpx.Response:
    """POST a Bundle (a dict), or a body as it is (text, bytes, an iterator of bytes)."""
    body = json.dumps(bundle) if isinstance(bundle, dict) else bundle
    return httpx.post(f"{server.url}/Claim/$submit", content=body, timeout=120,
                      headers={"Content-Type": "application/fhir+json", **(auth(token) if token else {})}, **kwargs)


def logged(server: Server, record_id: str) -> dict:
    done = subprocess.run([*CLI, "log", "show", record_id, "--database", server.database], capture_output=True,
                          text=True, cwd=server.folder, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------
# submit, update, inquire, read
# ---------------------------------------------------------------------------


def test_submit_answers_as_explain_does_and_logs_it_all(served, tmp_path):
    bundle = fusion("M-SUBMIT", "claim-submit")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    answer = submit(served, bundle)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    record = logged(served, answer.headers[RECORD])
    assert before <= datetime.datetime.fromisoformat(record["decided"].replace("Z", "+00:00")) <= after  # the clock's
    assert answer.text == explained(bundle, tmp_path, record["decided"])
    assert record["request"] == bundle and record["response"] == answer.json()
    assert (record["operation"], record["status"], record["token"]) == ("submit", 200, "clinic")
    assert (record["policy_id"], record["policy_version"]) == ("reference", "1.1")
    policy = ROOT / "policies" / "reference"
    h = hashlib.sha256()
    for path in sorted(policy.glob("*.lp"), key=lambda p: p.name):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    assert record["policy_hash"] == h.hexdigest()
    from importlib.metadata import version

    assert record["engine_version"] == version("necessity")
    assert record["received"] <= record["decided"]
    assert 0 < record["seconds_decide"] <= record["seconds_total"]
    assert record["outcome"] == "partially_approved"


def test_every_request_bundle_of_the_repository_is_answered_as_explain_answers_it(served, tmp_path):
    made = subprocess.run([*CLI, "fhir", "bundle", str(ROOT / "examples" / "source-002.yaml")], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert made.returncode == 0, made.stderr
    bundles = [json.loads(made.stdout)] + [json.loads(p.read_text()) for p in sorted(FUSION.parent.glob("pas-*.json"))
                                           if json.loads(p.read_text()).get("resourceType") == "Bundle"]
    for bundle in bundles:
        answer = submit(served, bundle)
        decided = logged(served, answer.headers[RECORD])["decided"]
        assert answer.status_code == 200 and answer.text == explained(bundle, tmp_path, decided)


def test_a_request_for_services_outside_the_policy_gets_what_explain_gives(served, tmp_path):
    """Whatever explain does with it (refuse it, or answer every item pended), the server does the same."""
    bundle = fusion("M-KNEE", "claim-knee")
    claim = bundle["entry"][0]["resource"]
    claim["item"] = [{**claim["item"][0], "productOrService": {"coding": [
        {"system": "http://www.ama-assn.org/go/cpt", "code": "27447", "display": "Total knee arthroplasty"}]}}]
    del claim["item"][0]["bodySite"]
    answer = submit(served, bundle)
    path = tmp_path / "knee.json"
    path.write_text(json.dumps(bundle))
    decided = logged(served, answer.headers[RECORD])["decided"]
    done = subprocess.run([*CLI, "explain", str(path), "--format", "fhir"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, DECISION_TIME: decided})
    if done.returncode == 0:
        assert answer.status_code == 200 and answer.text == done.stdout
    else:
        assert done.returncode == 2 and answer.status_code == 400
        assert answer.json()["resourceType"] == "OperationOutcome"


def test_a_pended_request_updated_with_its_documentation_is_decided_again_and_linked(served, tmp_path):
    pended = fusion("M-UPDATE", "claim-update", drop=("conservative_care",))
    first = submit(served, pended)
    assert first.status_code == 200
    assert all(codes == {"A4"} for codes in review_codes(first.json()).values()), review_codes(first.json())

    update = update_of(pended, "M-UPDATE", "claim-update-UPDATE")
    second = submit(served, update)
    assert second.status_code == 200
    old, new = logged(served, first.headers[RECORD]), logged(served, second.headers[RECORD])
    assert second.text == explained(update, tmp_path, new["decided"])
    assert review_codes(second.json())[1] == {"A1"}  # the L4-L5 decompression, pended for care, now certified
    assert new["updates"] == old["id"] and old["updates"] is None
    assert old["response"] == first.json() and new["response"] == second.json()  # both kept

    # an inquiry finds the current answer only: the update's
    found = httpx.post(f"{served.url}/Claim/$inquire", json=inquiry("M-UPDATE"), headers=auth(PORTAL), timeout=60)
    assert found.status_code == 200
    assert [p["resource"] for p in found.json()["parameter"]] == [second.json()]


def test_inquire_matches_on_patient_member_id_and_provider(served):
    answer = submit(served, fusion("M-INQUIRE", "claim-inquire"))
    assert answer.status_code == 200
    found = httpx.post(f"{served.url}/Claim/$inquire", json=inquiry("M-INQUIRE"), headers=auth(PORTAL), timeout=60)
    assert found.status_code == 200, found.text
    assert found.json()["resourceType"] == "Parameters"
    assert [p["name"] for p in found.json()["parameter"]] == ["responseBundle"]
    assert found.json()["parameter"][0]["resource"] == answer.json()
    assert logged(served, found.headers[RECORD])["operation"] == "inquire"
    for other in (inquiry("M-NOBODY"), inquiry("M-INQUIRE", (NPI[0], "1111111111"))):  # another patient, provider
        nothing = httpx.post(f"{served.url}/Claim/$inquire", json=other, headers=auth(PORTAL), timeout=60)
        assert nothing.status_code == 200 and nothing.json() == {"resourceType": "Parameters", "parameter": []}


def test_claim_response_questionnaire_and_metadata(served):
    answer = submit(served, fusion("M-READ", "claim-read"))
    claim_response = answer.json()["entry"][0]["resource"]
    got = httpx.get(f"{served.url}/ClaimResponse/{claim_response['id']}", headers=auth(), timeout=60)
    assert got.status_code == 200 and got.json() == claim_response
    missing = httpx.get(f"{served.url}/ClaimResponse/no-such-response", headers=auth(), timeout=60)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"

    form = httpx.get(f"{served.url}/Questionnaire/reference", headers=auth(), timeout=60)
    cli = subprocess.run([*CLI, "fhir", "questionnaire", "--policy", "reference"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert form.status_code == 200 and form.text == cli.stdout
    assert httpx.get(f"{served.url}/Questionnaire/..%2Fpolicies", headers=auth(), timeout=60).status_code == 404

    meta = httpx.get(f"{served.url}/metadata", timeout=60)  # no token needed
    assert meta.status_code == 200
    statement = meta.json()
    assert statement["resourceType"] == "CapabilityStatement"
    claim = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Claim")
    assert {o["definition"] for o in claim["operation"]} == {
        "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit",
        "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry"}
    assert "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim" in claim["supportedProfile"]


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------


def test_tokens_401_without_or_unknown_403_beyond_its_scopes(served):
    bundle = fusion("M-AUTH", "claim-auth")
    for headers in ({}, auth("not-a-token-of-this-server"), {"Authorization": f"Basic {SUBMITTER}"}):
        refused = httpx.post(f"{served.url}/Claim/$submit", json=bundle, headers=headers, timeout=60)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(f"{served.url}/ClaimResponse/x", timeout=60).status_code == 401
    forbidden = submit(served, bundle, token=PORTAL)  # the portal may only inquire
    assert forbidden.status_code == 403 and forbidden.json()["issue"][0]["code"] == "forbidden"
    assert httpx.get(f"{served.url}/ClaimResponse/x", headers=auth(PORTAL), timeout=60).status_code == 403


def test_oversize_is_413_whether_announced_or_not(served):
    big = b'{"resourceType": "Bundle", "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert submit(served, big).status_code == 413

    def chunks():  # no Content-Length: counted as it comes
        yield big[: len(big) // 2]
        yield big[len(big) // 2:]

    refused = submit(served, chunks())
    assert refused.status_code == 413 and refused.json()["issue"][0]["code"] == "too-costly"


def test_unreadable_request_is_400_operation_outcome_with_the_element_path(served):
    bundle = fusion("M-BAD", "claim-bad")
    bundle["entry"][0]["resource"]["item"][0]["sequence"] = "first"
    refused = submit(served, bundle)
    assert refused.status_code == 400
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[0].resource.item[0].sequence" in [e for i in outcome["issue"] for e in i.get("expression", [])]
    assert logged(served, refused.headers[RECORD])["status"] == 400  # refused requests are logged too
    not_a_bundle = json.dumps({"resourceType": "DeviceRequest", "status": "active", "intent": "order",
                               "codeCodeableConcept": {"text": "a brace"}, "subject": {"reference": "Patient/x"}})
    for body in (b"{not json", b"\xff\xfe not utf-8", b"[1, 2]", not_a_bundle):
        refused = submit(served, body)
        assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"
        assert "Traceback" not in refused.text


def test_the_server_log_holds_no_token_and_no_case_content(served):
    submit(served, fusion("M-QUIET", "claim-quiet-9f3e"))
    httpx.post(f"{served.url}/Claim/$submit", json={}, headers=auth("wrong-token-0123456789abcdef"), timeout=60)
    text = served.stderr.read_text()
    assert "POST /Claim/$submit 200" in text
    for secret in (SUBMITTER, PORTAL, "wrong-token-0123456789abcdef", "M-QUIET", "claim-quiet-9f3e", "SMITH",
                   "Traceback"):
        assert secret not in text


# ---------------------------------------------------------------------------
# the log survives kill -9
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_answered_request_survives_kill_9(kind, request, tmp_path):
    from exchange.serve.log import DecisionLog

    database = new_database(kind, request, tmp_path)
    server = Server(tmp_path, database).start()
    answered: list[tuple[str, str]] = []
    stop = threading.Event()
    body = json.dumps(fusion("M-KILL", "claim-kill"))

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while not stop.is_set() and len(answered) < 200:  # bounded
                try:
                    answer = http.post(f"{server.url}/Claim/$submit", content=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    answered.append((answer.headers[RECORD], answer.text))

    clients = [threading.Thread(target=client) for _ in range(6)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 120
    while len(answered) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill9()  # while requests are in flight
    stop.set()
    for thread in clients:
        thread.join(150)
    assert len(answered) >= 8
    restarted = Server(tmp_path, database).start()  # the log opens again after the kill
    try:
        log = DecisionLog(database)
        for record_id, text in answered:
            record = log.get(record_id)
            assert record is not None, f"answered {record_id} but lost it"
            assert record.response == text
        log.close()
        assert submit(restarted, fusion("M-KILL", "claim-kill"), token=None).status_code == 200
    finally:
        restarted.stop()


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------


def test_log_export_is_a_case_library_batch_and_diff_read(served, tmp_path):
    answer = submit(served, fusion("M-EXPORT", "claim-export"))
    record_id = answer.headers[RECORD]
    exported = subprocess.run([*CLI, "log", "export", "--database", served.database, "--since", "2000-01-01"],
                              capture_output=True, text=True, cwd=served.folder, timeout=300)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert record_id in [case["case"] for case in lines]
    library = tmp_path / "library.jsonl"
    library.write_text(exported.stdout)
    batch = subprocess.run([*CLI, "batch", str(library), "--out", "-"], capture_output=True, text=True, cwd=ROOT,
                           timeout=600)
    assert batch.returncode == 0, batch.stderr
    decided = {r["case"]: r for r in map(json.loads, batch.stdout.splitlines())}
    assert decided[record_id]["outcome"] == logged(served, record_id)["outcome"]
    diff = subprocess.run([*CLI, "diff", "reference", "reference", "--cases", str(library), "--jobs", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert f"0 of {len(lines)} cases decided differently" in diff.stdout
    future = subprocess.run([*CLI, "log", "export", "--database", served.database, "--since", "2999-01-01"],
                            capture_output=True, text=True, cwd=served.folder, timeout=300)
    assert future.returncode == 0 and future.stdout == ""


@pytest.mark.parametrize("args, said", [
    (["--host", "0.0.0.0"], "without --tokens the server answers anyone"),
    (["--host", "0.0.0.0", "--tokens", "TOKENS"], "--tls-cert and --tls-key, or --insecure-listen"),
    (["--tls-cert", "TOKENS"], "--tls-cert and --tls-key go together"),
    (["--tokens", "EMPTY"], "no token in it"),
    (["--tokens", "SHORT"], "fewer than 16 characters"),
    (["--tokens", "SCOPE"], "'delete' is neither a scope"),
])
def test_serve_refuses_what_is_unsafe_with_a_message(args, said, tmp_path):
    files = {"TOKENS": f"{SUBMITTER}\n", "EMPTY": "# nothing\n", "SHORT": "abc\n", "SCOPE": f"{SUBMITTER} delete\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = [str(tmp_path / a) if a in files else a for a in args]
    done = subprocess.run([*CLI, "serve", "--port", str(free_port()), *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr


def test_tls_with_the_given_certificate(tmp_path):
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl not found: it makes the test's self-signed certificate (apt-get install -y openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=120)
    (tmp_path / "tokens").write_text(f"{SUBMITTER}\n")
    trust = ssl.create_default_context(cafile=str(cert))
    server = Server(tmp_path, str(tmp_path / "log.sqlite"), "--tokens", str(tmp_path / "tokens"), "--tls-cert",
                    str(cert), "--tls-key", str(key), verify=trust).start()
    try:
        assert server.url.startswith("https://")
        answer = httpx.post(f"{server.url}/Claim/$submit", content=FUSION.read_bytes(), headers=auth(), verify=trust,
                            timeout=120)
        assert answer.status_code == 200
        with pytest.raises(httpx.HTTPError):  # no clear text on a TLS port
            httpx.get(f"http://127.0.0.1:{server.port}/metadata", timeout=10)
    finally:
        server.stop()


def test_log_show_of_an_unknown_record_or_log(tmp_path):
    done = subprocess.run([*CLI, "log", "show", "abc", "--database", str(tmp_path / "none.sqlite")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "no such log file" in done.stderr


def test_an_answer_the_log_cannot_keep_is_not_sent(tmp_path, monkeypatch):
    import anyio
    import sqlalchemy

    from exchange.serve.app import Service, Settings, create_app

    service = Service(Settings(database=str(tmp_path / "log.sqlite")), warm=False)

    def broken(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(service.log, "append", broken)
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post("/Claim/$submit", content=FUSION.read_bytes())

    try:
        answer = anyio.run(post)
    finally:
        service.close()  # its decision processes
    assert answer.status_code == 503
    assert answer.json()["resourceType"] == "OperationOutcome" and answer.json()["issue"][0]["code"] == "transient"
    assert "ClaimResponse" not in answer.text


def test_log_export_leaves_out_a_request_that_no_longer_reads_and_says_so(tmp_path):
    from exchange.serve.log import DecisionLog, Record, new_id, now

    database = str(tmp_path / "log.sqlite")
    log = DecisionLog(database)

    def record(request: str) -> Record:
        return Record(id=new_id(), received=now(), operation="submit", status=200, token=None, policy_id="reference",
                      policy_version="1.1", policy_hash="0" * 64, engine_version="0", decided=None,
                      seconds_decide=None, seconds_total=None, outcome=None, response_id=None, updates=None,
                      request=request, response="{}")

    good, bad = record(FUSION.read_text()), record('{"resourceType": "Bundle", "type": "collection"}')
    log.append(good)
    log.append(bad)
    log.close()
    done = subprocess.run([*CLI, "log", "export", "--database", database], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    assert [json.loads(line)["case"] for line in done.stdout.splitlines()] == [good.id]
    assert f"record {bad.id}" in done.stderr and "1 case exported; 1 record left out" in done.stderr
