"""The local SQLite ledger: lookups, concurrent writers, killed writers, every kind of tampering, export and import."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest
from ledger_helpers import raw_sql, watermarked_ledger

from ParomaWatermarkLib import LedgerError, LedgerIntegrityError, LocalLedger
from ParomaWatermarkLib.ledger import LEAK_CHECK

APPENDER = textwrap.dedent(
    """
    import sys
    from ParomaWatermarkLib import LocalLedger
    ledger = LocalLedger(sys.argv[1])
    for n in range(int(sys.argv[2])):
        block = ledger.append("leak_check", {"writer": sys.argv[3], "n": n, "padding": "x" * 2000})
        print(block.index, block.hash, flush=True)
    """
)


def append_many(path: str, writer: int, count: int) -> list[int]:
    ledger = LocalLedger(path)
    return [ledger.append(LEAK_CHECK, {"writer": writer, "n": n}).index for n in range(count)]


def test_a_new_ledger_starts_with_a_genesis_block_and_verifies(tmp_path):
    ledger = LocalLedger(tmp_path / "ledger.db")
    assert len(ledger) == 1 and ledger.block(0).kind == "genesis"
    assert ledger.verify().ok
    again = LocalLedger(tmp_path / "ledger.db")
    assert again.ledger_id == ledger.ledger_id and len(again) == 1


def test_lookups_by_volume_hash_slice_hash_and_geometry(tmp_path):
    from ParomaWatermarkLib import volume_hash

    logic, volume, copies = watermarked_ledger(tmp_path)
    ledger = logic.ledger
    marked = copies["DS-2"]
    hashes = volume_hash(marked)
    assert [b.index for b in ledger.find_volume(hashes.volume)] == [2]
    assert ledger.find_volume(volume_hash(volume).volume) == []
    found = ledger.find_slices([hashes.slices[4], "00" * 32, hashes.slices[1]])
    assert found == {0: [(2, 4)], 2: [(2, 1)]}
    assert [b.index for b in ledger.candidates(60, 63)] == [1, 2, 3]
    assert ledger.candidates(63, 60) == []


def test_repeated_request_ids_do_not_create_a_second_block(tmp_path):
    ledger = LocalLedger(tmp_path / "ledger.db")
    first = ledger.append(LEAK_CHECK, {"n": 1}, request_id="req-1")
    again = ledger.append(LEAK_CHECK, {"n": 1}, request_id="req-1")
    assert again == first and len(ledger) == 2


def test_concurrent_writers_in_several_processes_form_one_linear_chain(tmp_path):
    path = str(tmp_path / "ledger.db")
    LocalLedger(path)
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(append_many, [path] * 4, range(4), [60] * 4))
    indices = sorted(i for r in results for i in r)
    assert indices == list(range(1, 241))
    ledger = LocalLedger(path)
    report = ledger.verify()
    assert report.ok and report.blocks == 241
    writers = [(b.payload["writer"], b.payload["n"]) for b in ledger.blocks(1)]
    assert sorted(writers) == sorted((w, n) for w in range(4) for n in range(60))


def test_a_writer_killed_at_any_moment_leaves_a_whole_chain_and_loses_no_acknowledged_block(tmp_path):
    path = tmp_path / "ledger.db"
    LocalLedger(path)
    rng = random.Random(1)
    acknowledged: dict[int, str] = {}
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    for round_ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path), "100000", str(round_)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(rng.randint(5, 60)):
            index, digest = child.stdout.readline().split()
            acknowledged[int(index)] = digest
        child.send_signal(signal.SIGKILL)
        child.wait()
        ledger = LocalLedger(path)
        assert ledger.verify().ok, f"round {round_}: {ledger.verify()}"
        for index, digest in acknowledged.items():
            assert ledger.block(index).hash == digest
        ledger.close()


def tamper_cases():
    def edit_recipient(ledger):
        block = ledger.block(2)
        body = json.loads(block.to_json())
        body["payload"]["recipient"] = "DS-99"
        raw_sql(ledger, "UPDATE blocks SET body = ? WHERE idx = 2", (json.dumps(body),))

    def delete_block(ledger):
        raw_sql(ledger, "DELETE FROM blocks WHERE idx = 2")

    def insert_block(ledger):
        from ParomaWatermarkLib.ledger import Block

        for table, column in (("blocks", "idx"), ("slice_sets", "block"), ("slice_lookup", "block")):
            raw_sql(ledger, f"UPDATE {table} SET {column} = {column} + 100 WHERE {column} >= 2")
            raw_sql(ledger, f"UPDATE {table} SET {column} = {column} - 99 WHERE {column} >= 102")
        forged = Block.create(2, ledger.block(1).hash, "leak_check", {"forged": True})
        raw_sql(ledger, "INSERT INTO blocks (idx, hash, kind, body) VALUES (2, ?, ?, ?)", (forged.hash, forged.kind, forged.to_json()))

    def reorder_blocks(ledger):
        raw_sql(ledger, "UPDATE blocks SET idx = -1 WHERE idx = 2")
        raw_sql(ledger, "UPDATE blocks SET idx = 2 WHERE idx = 3")
        raw_sql(ledger, "UPDATE blocks SET idx = 3 WHERE idx = -1")

    def rewrite_and_rehash(ledger):
        from ParomaWatermarkLib.ledger import Block

        block = ledger.block(2)
        forged = Block.create(2, block.previous_hash, block.kind, block.payload | {"recipient": "DS-99"}, block.timestamp)
        raw_sql(ledger, "UPDATE blocks SET body = ?, hash = ? WHERE idx = 2", (forged.to_json(), forged.hash))

    def index_column(ledger):
        raw_sql(ledger, "UPDATE blocks SET volume_hash = ? WHERE idx = 1", ("ab" * 32,))

    def slice_hashes(ledger):
        raw_sql(ledger, "UPDATE slice_sets SET digests = ? WHERE block = 3", (b"\x00" * 32 * 6,))

    def slice_lookup(ledger):
        raw_sql(ledger, "DELETE FROM slice_lookup WHERE block = 1 AND slice = 0")

    return [
        (edit_recipient, 2, "was altered"),
        (delete_block, 2, "block 2 is missing"),
        (insert_block, 3, "says it is block 2"),
        (reorder_blocks, 2, "says it is block 3"),
        (rewrite_and_rehash, 3, "does not link to block 2"),
        (index_column, 1, "index entries of block 1"),
        (slice_hashes, 3, "per-slice hashes of block 3 do not match"),
        (slice_lookup, 1, "slice lookup of block 1"),
    ]


@pytest.mark.parametrize(("tamper", "bad_block", "reason"), tamper_cases(), ids=lambda c: getattr(c, "__name__", None))
def test_every_kind_of_tampering_is_found_and_named(tmp_path, tamper, bad_block, reason):
    logic, _, _ = watermarked_ledger(tmp_path)
    assert logic.verify_ledger().ok
    tamper(logic.ledger)
    report = LocalLedger(tmp_path / "ledger.db").verify()
    assert not report.ok
    assert report.first_bad_block == bad_block
    assert reason in report.reason


def test_bytes_changed_directly_in_the_file_are_found(tmp_path):
    logic, _, _ = watermarked_ledger(tmp_path)
    logic.ledger.close()
    path = tmp_path / "ledger.db"
    data = bytearray(path.read_bytes())
    spot = data.find(b'"recipient":"DS-2"')
    assert spot > 0
    data[spot + 16] = ord("7")
    path.write_bytes(bytes(data))
    report = LocalLedger(path).verify()
    assert not report.ok and report.first_bad_block == 2 and "altered" in report.reason


def test_a_file_that_is_not_a_ledger_is_refused_clearly(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="not a usable ledger file"):
        LocalLedger(path)
    with pytest.raises(LedgerError, match="does not exist"):
        LocalLedger(tmp_path / "missing" / "ledger.db")


def test_export_then_import_gives_the_same_verified_chain(tmp_path):
    logic, volume, copies = watermarked_ledger(tmp_path)
    logic.check(copies["DS-1"][:3])
    exported = tmp_path / "export.json"
    assert logic.ledger.export_json(exported).ok
    imported = LocalLedger.import_json(exported, tmp_path / "copy.db", master_key=logic.ledger.master_key)
    assert imported.verify().ok
    assert [b.hash for b in imported.blocks()] == [b.hash for b in logic.ledger.blocks()]
    from ParomaWatermarkLib import ParomaWatermarkLogic

    assert ParomaWatermarkLogic(imported).check(copies["DS-3"][1:4] + 1).recipient == "DS-3"


def test_import_verifies_before_it_accepts(tmp_path):
    logic, _, _ = watermarked_ledger(tmp_path)
    exported = tmp_path / "export.json"
    logic.ledger.export_json(exported)
    document = json.loads(exported.read_text())
    document["blocks"][2]["payload"]["recipient"] = "DS-99"
    exported.write_text(json.dumps(document))
    with pytest.raises(LedgerIntegrityError, match="block 2 was altered"):
        LocalLedger.import_json(exported, tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()
    with pytest.raises(LedgerError, match="already exists"):
        LocalLedger.import_json(exported, tmp_path / "ledger.db")
