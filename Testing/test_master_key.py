"""Secret keys sealed under the ledger master key: never in the clear, and a missing or wrong key said plainly."""

from __future__ import annotations

import os
import stat

import pytest
from ledger_helpers import watermarked_ledger

from ParomaWatermarkLib import LocalLedger, MasterKeyError, ParomaWatermarkLogic
from ParomaWatermarkLib.ledger import MasterKey, key_file_for


def test_the_key_file_is_created_on_first_use_with_owner_only_permissions(tmp_path):
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    assert not key_file_for(tmp_path / "ledger.db").exists()
    watermarked_ledger(tmp_path)
    mode = os.stat(key_file_for(tmp_path / "ledger.db")).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert logic.ledger.master_key is not None


def test_secret_keys_never_sit_in_the_clear_in_the_ledger(tmp_path):
    logic, _, _ = watermarked_ledger(tmp_path)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*") if not p.name.endswith(".key"))
    for block in logic.ledger.blocks(1):
        key = logic.ledger.key_for(logic.record(block.index))
        assert key.hex().encode() not in raw and key.raw not in raw
        assert key.fingerprint() == logic.record(block.index).key_fingerprint


def test_without_the_master_key_verification_and_hash_matching_still_work(tmp_path, monkeypatch):
    logic, volume, copies = watermarked_ledger(tmp_path)
    key_file_for(tmp_path / "ledger.db").rename(tmp_path / "elsewhere.key")
    monkeypatch.delenv("PAROMA_LEDGER_KEY", raising=False)
    keyless = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    assert keyless.verify_ledger().ok
    assert keyless.check(copies["DS-2"]).recipient == "DS-2"
    with pytest.raises(MasterKeyError, match="master key is missing: set PAROMA_LEDGER_KEY or put the key file at"):
        keyless.check(copies["DS-2"][:2] + 1)
    with pytest.raises(MasterKeyError, match="cannot be read or removed"):
        keyless.check(volume)


def test_the_environment_variable_supplies_the_master_key(tmp_path, monkeypatch):
    logic, _, copies = watermarked_ledger(tmp_path)
    monkeypatch.setenv("PAROMA_LEDGER_KEY", logic.ledger.master_key.hex())
    key_file_for(tmp_path / "ledger.db").unlink()
    assert ParomaWatermarkLogic(ledger=tmp_path / "ledger.db").check(copies["DS-1"][2:]).recipient == "DS-1"


def test_a_wrong_master_key_is_an_error_never_a_silent_mismatch(tmp_path):
    _, _, copies = watermarked_ledger(tmp_path)
    wrong = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db", master_key=MasterKey.generate())
    with pytest.raises(MasterKeyError, match="wrong ledger master key"):
        wrong.check(copies["DS-3"][1:] - 2)
    with pytest.raises(MasterKeyError, match="wrong ledger master key"):
        wrong.restore(copies["DS-3"])


def test_key_files_that_others_can_read_or_that_are_malformed_are_refused(tmp_path):
    path = tmp_path / "ledger.db"
    LocalLedger(path)
    MasterKey.generate().write(key_file_for(path))
    os.chmod(key_file_for(path), 0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        LocalLedger(path).master_key
    os.chmod(key_file_for(path), 0o600)
    key_file_for(path).write_text("not a key")
    with pytest.raises(MasterKeyError, match="not 64 hexadecimal digits"):
        LocalLedger(path).master_key
    with pytest.raises(MasterKeyError, match="never overwritten"):
        MasterKey.generate().write(key_file_for(path))


def test_a_sealed_key_cannot_be_moved_to_another_record(tmp_path):
    logic, _, _ = watermarked_ledger(tmp_path)
    one, two = logic.record(1), logic.record(2)
    with pytest.raises(MasterKeyError, match="altered, or belongs to another block"):
        logic.ledger.unseal(one.sealed_key, two.seal_context(logic.ledger.ledger_id))
    assert repr(logic.ledger.master_key).startswith("MasterKey(id=")
    assert logic.ledger.master_key.hex() not in repr(logic.ledger.master_key)
