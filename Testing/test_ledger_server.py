"""The ledger server and its client: a real server process on 127.0.0.1 at a free port, talked to with requests."""

from __future__ import annotations

import io
import os
import threading
import time
import zlib

import numpy as np
import pytest
import requests

pytest.importorskip("fastapi", reason="the server needs the 'server' extra")

from server_process import STORES, ServerProcess, skip_without, synthetic_record  # noqa: E402

from ParomaWatermarkLib import ParomaWatermarkLogic  # noqa: E402
from ParomaWatermarkLib.demo import sample_mr_volume  # noqa: E402
from ParomaWatermarkLib.ledger.remote import RemoteLedger, RemoteLedgerError  # noqa: E402


@pytest.fixture(scope="module", params=STORES)
def server(request, tmp_path_factory):
    """A server per store: every test below runs on the SQLite file and on PostgreSQL."""
    skip_without(request.param)
    process = ServerProcess(tmp_path_factory.mktemp("server"), max_upload_mb=2, store=request.param).start()
    yield process
    process.stop()


def logic_as(server, role):
    return ParomaWatermarkLogic(ledger=server.url, token=server.tokens[role])


def test_the_whole_flow_over_http(server):
    volume, _ = sample_mr_volume()
    writer = logic_as(server, "writer")
    copies = {r: writer.watermark(volume, "P-0001", r)[0] for r in ("DS-17", "DS-42", "DS-99")}
    auditor = logic_as(server, "auditor")
    finding = auditor.check(copies["DS-42"][[5, 3, 8]] + 1000)
    assert (finding.detected, finding.method, finding.recipient) == (True, "watermark", "DS-42")
    assert finding.false_match_probability < 1e-9
    assert not auditor.check(volume).detected
    custodian = logic_as(server, "custodian")
    assert custodian.restore(copies["DS-99"]).tobytes() == volume.tobytes()
    reader = logic_as(server, "reader")
    assert reader.verify_ledger().ok
    kinds = [(b.kind, b.payload.get("role"), b.payload.get("token_id")) for b in reader.ledger.blocks()]
    assert ("leak_check", "auditor", "auditor-1") in kinds
    assert ("key_read", "custodian", "custodian-1") in kinds and ("restore", "custodian", "custodian-1") in kinds
    assert server.store().verify().ok


def _npy(volume: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, volume)
    return buffer.getvalue()


ENDPOINTS = [
    ("GET", "/v1/ledger", None, set()),
    ("GET", "/v1/blocks?start=0", None, set()),
    ("GET", "/v1/blocks/0", None, set()),
    ("GET", "/v1/verify", None, set()),
    ("POST", "/v1/lookup/volume", {"json": {"hash": "ab" * 32}}, set()),
    ("POST", "/v1/lookup/slices", {"json": {"hashes": ["ab" * 32]}}, set()),
    ("POST", "/v1/watermarks", "record", {"writer"}),
    ("POST", "/v1/restorations", {"json": {"block": 1, "restored_hash": "ab" * 32}}, {"custodian"}),
    ("GET", "/v1/blocks/1/key", None, {"custodian"}),
    ("POST", "/v1/checks", {"data": _npy(np.zeros((2, 30, 30), np.int16))}, {"auditor"}),
]


@pytest.mark.parametrize("role", [None, "reader", "writer", "auditor", "custodian"])
@pytest.mark.parametrize(("method", "path", "body", "only"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_the_role_matrix(server, role, method, path, body, only):
    if body == "record":
        body = {"json": synthetic_record(hash(role) % 1000)}
    response = requests.request(method, server.url + path, headers=server.headers(role), timeout=30, **(body or {}))
    if role is None:
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    elif only and role not in only:
        assert response.status_code == 403, response.text
    else:
        assert response.status_code in (200, 201), response.text
    assert '"sealed"' not in response.text
    if "key" in response.text and path.endswith("/key"):
        assert role == "custodian"


def test_a_wrong_token_is_refused(server):
    response = requests.get(server.url + "/v1/ledger", headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    assert response.status_code == 401 and "not valid" in response.json()["detail"]
    with pytest.raises(RemoteLedgerError, match="refused the token"):
        len(RemoteLedger(server.url, "not-a-token"))
    with pytest.raises(RemoteLedgerError, match="needs another role|another role"):
        logic_as(server, "reader").check(np.zeros((2, 30, 30), np.int16))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        ("POST", "/v1/watermarks", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "JSON"),
        ("POST", "/v1/lookup/volume", {"json": {"hash": 12}}, 422, "string"),
        ("POST", "/v1/lookup/slices", {"json": {"hashes": "abc"}}, 422, "list"),
        ("POST", "/v1/restorations", {"json": {"block": 999, "restored_hash": "ab" * 32}}, 404, "no block 999"),
        ("GET", "/v1/blocks/999", {}, 404, "no block 999"),
        ("GET", "/v1/blocks/0/key", {}, 404, "not a watermark record"),
        ("POST", "/v1/checks", {"data": b"not a volume"}, 400, ".npy"),
        ("POST", "/v1/checks", {"data": b""}, 400, "empty"),
        ("POST", "/v1/checks", {"data": b"x" * (3 << 20)}, 413, "limit"),
        ("POST", "/v1/checks", {"data": zlib.compress(b"\0" * (8 << 20)), "headers": {"Content-Encoding": "deflate"}}, 413, "inflated"),
        ("POST", "/v1/checks", {"data": _npy(np.zeros((4, 3, 9, 9), np.int16))}, 400, "2D slice or a 3D"),
        ("POST", "/v1/checks", {"data": _npy(np.full((2, 96, 128), 0.5))}, 400, "whole numbers"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server, method, path, kwargs, status, says):
    role = {"/v1/watermarks": "writer", "/v1/restorations": "custodian", "/v1/checks": "auditor"}.get(path.split("?")[0], "custodian")
    kwargs = dict(kwargs)
    headers = server.headers(role) | kwargs.pop("headers", {})
    response = requests.request(method, server.url + path, headers=headers, timeout=30, **kwargs)
    assert response.status_code == status, response.text
    assert says in response.text


def test_a_record_that_would_break_the_chain_is_refused(server):
    body = synthetic_record(7)
    body["slice_hashes"] = body["slice_hashes"][:1]
    response = requests.post(server.url + "/v1/watermarks", json=body, headers=server.headers("writer"), timeout=10)
    assert response.status_code == 422 and "one slice hash per slice" in response.text
    body = synthetic_record(8)
    body["payload"]["embed"]["psnr_db"] = 110.5
    response = requests.post(server.url + "/v1/watermarks", json=body, headers=server.headers("writer"), timeout=10)
    assert response.status_code == 422 and "decimal text" in response.text
    assert server.store().verify().ok


def test_a_schema_driven_fuzzer_finds_no_server_error(server):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    roles = {"/v1/watermarks": "writer", "/v1/restorations": "custodian", "/v1/checks": "auditor"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        role = roles.get(operation.path, "custodian")

        @settings(max_examples=int(os.environ.get("PAROMA_FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(headers=server.headers(role), timeout=30)
            if response.status_code >= 500:
                failures.append((operation.path, response.status_code, response.text[:200]))

        call()
    assert failures == [], failures
    assert server.store().verify().ok


def _append_all(url: str, token: str, bodies: list[dict], acknowledged: list, deadline: float) -> None:
    """A client appending records one by one, retrying each (same request id) until it is acknowledged."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for body in bodies:
        while time.monotonic() < deadline:
            try:
                response = session.post(url + "/v1/watermarks", json=body, timeout=30)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            if response.status_code == 201:
                acknowledged.append((body["request_id"], response.json()["index"], response.json()["hash"]))
                break
            time.sleep(0.1)


def _load(server, clients: int, each: int, seconds: float, during=None) -> list:
    acknowledged: list = []
    deadline = time.monotonic() + seconds
    bodies = [[synthetic_record(c * each + n) for n in range(each)] for c in range(clients)]
    threads = [
        threading.Thread(target=_append_all, args=(server.url, server.tokens["writer"], bodies[c], acknowledged, deadline))
        for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    if during:
        during()
    for thread in threads:
        thread.join()
    return acknowledged


@pytest.mark.parametrize("store", STORES)
def test_eight_clients_appending_500_each_form_one_chain(tmp_path, store):
    skip_without(store)
    server = ServerProcess(tmp_path, store=store).start()
    try:
        acknowledged = _load(server, clients=8, each=500, seconds=240)
    finally:
        server.stop()
    assert len(acknowledged) == 4000 and len({a[0] for a in acknowledged}) == 4000
    ledger = server.store()
    report = ledger.verify()
    assert report.ok and report.blocks == 4001
    assert sorted(a[1] for a in acknowledged) == list(range(1, 4001))


@pytest.mark.parametrize("store", STORES)
def test_a_server_killed_mid_load_and_restarted_loses_and_duplicates_nothing(tmp_path, store):
    skip_without(store)
    server = ServerProcess(tmp_path, store=store).start()

    def kill_and_restart():
        time.sleep(1.5)
        server.kill()
        time.sleep(0.5)
        server.start()

    try:
        acknowledged = _load(server, clients=8, each=500, seconds=300, during=kill_and_restart)
    finally:
        server.stop()
    assert len(acknowledged) == 4000
    ledger = server.store()
    assert ledger.verify().ok
    for _, index, digest in acknowledged:
        assert ledger.block(index).hash == digest
    assert len(ledger) == 4001, "a retried append made a second block"


def test_the_command_line_takes_a_server_url_and_token(server, tmp_path, capsys, monkeypatch):
    import SimpleITK as sitk

    from ParomaWatermarkLib import cli

    sitk.WriteImage(sitk.GetImageFromArray(sample_mr_volume()[0]), str(tmp_path / "scan.nrrd"))
    common = ["--ledger", server.url]
    assert cli.main(["embed", str(tmp_path / "scan.nrrd"), str(tmp_path / "copy.nrrd"), "--paroma-id", "P-7",
                     "--recipient", "DS-7", "--token", server.tokens["writer"]] + common) == 0
    monkeypatch.setenv("PAROMA_TOKEN", server.tokens["auditor"])
    assert cli.main(["check", str(tmp_path / "copy.nrrd")] + common) == 0
    assert "given to DS-7" in capsys.readouterr().out
    assert cli.main(["ledger", "verify"] + common) == 0
    assert cli.main(["ledger", "export", str(tmp_path / "x.json")] + common) == 2
    assert "export the ledger on the server's host" in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "copy.nrrd"), "--token", "wrong"] + common) == 2
    assert "refused the token" in capsys.readouterr().err


def _self_signed_certificate(folder):
    """A certificate for 127.0.0.1, made here with the cryptography package."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def test_tls_is_served_and_verified_by_default(tmp_path):
    certificate, key = _self_signed_certificate(tmp_path)
    server = ServerProcess(tmp_path, tls=(certificate, key)).start()
    try:
        trusted = RemoteLedger(server.url, server.tokens["reader"], verify=str(certificate))
        assert len(trusted) == 1 and trusted.verify().ok
        trusted.close()
        with pytest.raises(RemoteLedgerError, match="TLS with .* failed"):
            len(RemoteLedger(server.url, server.tokens["reader"]))
    finally:
        server.stop()


def test_an_unreachable_server_is_said_plainly(tmp_path):
    from server_process import free_port

    ledger = RemoteLedger(f"http://127.0.0.1:{free_port()}", "token", retries=1, timeout=2)
    with pytest.raises(RemoteLedgerError, match="cannot be reached .* check the URL and that the server is running"):
        len(ledger)
    with pytest.raises(RemoteLedgerError, match="a token is needed"):
        RemoteLedger("http://127.0.0.1:1", None)


def test_secret_keys_are_sealed_at_rest_on_the_server(tmp_path):
    server = ServerProcess(tmp_path).start()
    try:
        body = synthetic_record(3)
        response = requests.post(server.url + "/v1/watermarks", json=body, headers=server.headers("writer"), timeout=10)
        assert response.status_code == 201
    finally:
        server.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("server-ledger.db*") if not p.name.endswith(".key"))
    assert body["key"].encode() not in stored and bytes.fromhex(body["key"]) not in stored
    assert (tmp_path / "server-ledger.db.key").stat().st_mode & 0o077 == 0


def test_tokens_come_from_a_file_or_the_environment_and_bad_ones_are_refused(tmp_path, monkeypatch):
    import json

    from ParomaWatermarkLib.server.tokens import TokenConfigError, TokenRegistry, add_token

    token = add_token(tmp_path / "tokens.json", "officer-1", "auditor")
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0 and token not in (tmp_path / "tokens.json").read_text()
    assert TokenRegistry.load(tmp_path / "tokens.json").holder(token).role == "auditor"
    monkeypatch.setenv("PAROMA_SERVER_TOKENS", (tmp_path / "tokens.json").read_text())
    assert TokenRegistry.load().holder(token).id == "officer-1" and TokenRegistry.load().holder("x") is None
    for document, says in (("nope", "must be JSON"), (json.dumps({"tokens": []}), "holds no token"),
                           (json.dumps({"tokens": [{"id": "a", "role": "king", "sha256": "00" * 32}]}), "role must be")):
        monkeypatch.setenv("PAROMA_SERVER_TOKENS", document)
        with pytest.raises(TokenConfigError, match=says):
            TokenRegistry.load()
    monkeypatch.delenv("PAROMA_SERVER_TOKENS")
    with pytest.raises(TokenConfigError, match="no tokens"):
        TokenRegistry.load()
    with pytest.raises(TokenConfigError, match="already has a token"):
        add_token(tmp_path / "tokens.json", "officer-1", "reader")
