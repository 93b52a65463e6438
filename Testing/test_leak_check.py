"""The leak check: the right recipient for every copy, nothing for clean volumes, sound statistics."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import smooth_volume

from ParomaWatermarkLib import ParomaWatermarkLogic
from ParomaWatermarkLib.demo import sample_mr_volume

RECIPIENTS = ("DS-1", "DS-2", "DS-3")


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """Three recipients' copies of one real MR volume, in one ledger."""
    logic = ParomaWatermarkLogic(ledger=tmp_path_factory.mktemp("ledger") / "ledger.db")
    volume, _ = sample_mr_volume()
    copies = {r: logic.watermark(volume, "P-0001", r)[0] for r in RECIPIENTS}
    return logic, volume, copies


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_each_recipients_copy_is_traced_to_that_recipient(traced, recipient):
    logic, _, copies = traced
    exact = logic.check(copies[recipient])
    assert (exact.detected, exact.method, exact.recipient, exact.paroma_id) == (True, "hash", recipient, "P-0001")
    assert exact.slices == tuple(range(24))
    part = logic.check(copies[recipient][[17, 3, 11, 5]].astype(np.int32) - 100)
    assert (part.detected, part.method, part.recipient) == (True, "watermark", recipient)
    assert part.matched_bits == part.voted_bits >= 100
    assert part.false_match_probability < 1e-30
    assert part.slices == (0, 1, 2, 3) and part.candidates == 3
    assert f"given to {recipient}" in part.summary() and "chance match below 1e-" in part.summary()


def test_slices_found_by_their_hash_name_the_suspects_slices(traced):
    logic, _, copies = traced
    finding = logic.check(np.concatenate([copies["DS-2"][[7, 8]], smooth_volume(2, 96, 128)]))
    assert (finding.method, finding.recipient, finding.slices) == ("hash", "DS-2", (0, 1))


def test_the_original_and_unrelated_volumes_give_no_detection(traced):
    logic, volume, _ = traced
    for clean in (volume, volume[:5], smooth_volume(10, 96, 128), smooth_volume(3, 40, 40)):
        finding = logic.check(clean)
        assert not finding.detected and finding.summary().startswith("No watermark detected")


def test_every_check_is_recorded_in_the_ledger(traced):
    logic, _, copies = traced
    before = len(logic.ledger)
    logic.check(copies["DS-1"][:2] + 1)
    block = logic.ledger.last_block()
    assert len(logic.ledger) == before + 1 and block.kind == "leak_check"
    assert block.payload["detected"] is True and block.payload["block"] == 1 and block.payload["method"] == "watermark"
    assert logic.verify_ledger().ok


def test_hundreds_of_clean_volumes_against_hundreds_of_blocks_give_no_detection(tmp_path):
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    for n in range(200):
        logic.watermark(smooth_volume(3, 60, 60, seed=n, noise=0.7), f"P-{n}", f"DS-{n % 17}")
    rng = np.random.default_rng(5)
    detections, smallest = 0, 1.0
    for n in range(250):
        kind = n % 3
        if kind == 0:
            clean = smooth_volume(2, 60, 60, seed=10_000 + n, noise=0.7)
        elif kind == 1:
            clean = rng.integers(0, 3, size=(2, 60, 60)).astype(np.int16)
        else:
            clean = np.full((1, 60, 60), n, np.int16) + (rng.random((1, 60, 60)) < 0.05)
        finding = logic.check(clean)
        detections += finding.detected
        assert (finding.candidates, finding.orientations) == (200, 8), "every in-plane orientation is tried"
    assert detections == 0


def test_a_copy_with_few_voted_bits_is_not_declared(tmp_path):
    """A match on too few bits stays below the bound's evidence: the check says so instead of accusing."""
    logic = ParomaWatermarkLogic(ledger=tmp_path / "ledger.db")
    volume = smooth_volume(8, 60, 60, noise=1.0)
    marked, record = logic.watermark(volume, "P-1", "DS-1")
    tiny = marked[:1, :9, :9]
    finding = logic.check(tiny)
    assert not finding.detected
