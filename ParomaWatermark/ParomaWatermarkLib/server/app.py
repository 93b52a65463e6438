"""The ledger server: the ledger over HTTP, for a network of hospitals (FastAPI).

Roles, each a bearer token: reader (blocks without keys, verification, exact-hash lookups), writer (append watermark
records), auditor (leak checks, which run here, where the keys are), custodian (read a secret key to restore). Every
role can read. Every leak check and every key read appends an audit block naming the role and the token id. Secret
keys are sealed at rest under the server's master key, which never enters the ledger, and no response carries a
secret key except a key read by a custodian.
"""

from __future__ import annotations

import io
import zlib
from typing import Annotated

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..errors import LedgerError, MasterKeyError, NotRecordedError, ParomaError, VolumeError
from ..ledger import RESTORE, WATERMARK, LocalLedger
from ..ledger.postgres import PostgresLedger
from ..ledger.blocks import Block
from ..ledger.records import WatermarkRecord, check_watermark_payload, seal_context
from ..logic import ParomaWatermarkLogic
from ..watermark import SecretKey
from .tokens import AUDITOR, CUSTODIAN, READER, ROLES, WRITER, Holder, TokenRegistry

HEX64 = r"^[0-9a-f]{64}$"
MAX_INDEX = 2**62
BlockIndex = Annotated[int, PathParam(ge=0, le=MAX_INDEX, description="block number, from 0")]
MAX_SLICE_HASHES = 100_000
DEFAULT_MAX_UPLOAD_BYTES = 1 << 30


class WatermarkIn(BaseModel):
    """A watermark record from a writer: the payload as ParomaWatermarkLogic builds it, with the key still in the clear
    (sent once, over TLS); the server seals it before anything is stored."""

    payload: dict
    slice_hashes: list[Annotated[str, Field(pattern=HEX64)]] = Field(max_length=MAX_SLICE_HASHES)
    key: str = Field(pattern=HEX64, description="the watermark's secret key, 64 hexadecimal digits")
    request_id: str | None = Field(default=None, max_length=128, description="repeat it on a retry: no second block")


class RestoreIn(BaseModel):
    """A custodian's record that the original of a watermark block was restored and verified."""

    block: int = Field(ge=1, le=MAX_INDEX)
    restored_hash: str = Field(pattern=HEX64)
    request_id: str | None = Field(default=None, max_length=128)


class VolumeLookup(BaseModel):
    hash: str = Field(pattern=HEX64)


class SliceLookup(BaseModel):
    hashes: list[Annotated[str, Field(pattern=HEX64)]] = Field(max_length=MAX_SLICE_HASHES)


def public_block(block: Block) -> dict:
    """A block as the API shows it: a watermark block's sealed key is left out (its fingerprint stays)."""
    data = block.to_dict()
    if block.kind == WATERMARK:
        key = data["payload"]["key"]
        data["payload"] = data["payload"] | {"key": {k: v for k, v in key.items() if k != "sealed"}}
    return data


def create_app(ledger: LocalLedger | PostgresLedger, tokens: TokenRegistry, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    """The server's application over `ledger`, answering the holders of `tokens`."""
    logic = ParomaWatermarkLogic(ledger)
    app = FastAPI(
        title="ParomaWatermark ledger server",
        version=__version__,
        description=__doc__,
    )
    bearer = HTTPBearer(auto_error=False)

    def role(*allowed: str):
        def holder(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Holder:
            if credentials is None or not credentials.credentials:
                raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
            found = tokens.holder(credentials.credentials)
            if found is None:
                raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
            if found.role not in allowed:
                raise HTTPException(403, f"the {found.role} role may not do this (allowed: {', '.join(allowed)})")
            return found

        return holder

    anyone = role(*ROLES)

    @app.exception_handler(ParomaError)
    async def library_error(request: Request, error: ParomaError) -> JSONResponse:
        status = 404 if isinstance(error, NotRecordedError) else 503 if isinstance(error, MasterKeyError) else 400
        if isinstance(error, LedgerError) and not isinstance(error, MasterKeyError):
            status = 503
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.get("/v1/ledger", summary="The ledger's id, size and head")
    def ledger_info(holder: Holder = Depends(anyone)) -> dict:
        last = ledger.last_block()
        return {"ledger_id": ledger.ledger_id, "blocks": last.index + 1, "head": last.hash,
                "watermarks": ledger.watermark_count()}

    @app.get("/v1/blocks", summary="Blocks in order, without keys")
    def blocks(
        start: int = Query(0, ge=0, le=MAX_INDEX),
        stop: int | None = Query(None, ge=0, le=MAX_INDEX),
        holder: Holder = Depends(anyone),
    ) -> list[dict]:
        stop = start + 1000 if stop is None else min(stop, start + 1000)
        return [public_block(block) for block in ledger.blocks(start, stop)]

    @app.get("/v1/blocks/{index}", summary="One block, without keys")
    def block(index: BlockIndex, holder: Holder = Depends(anyone)) -> dict:
        return public_block(_block(index))

    @app.get("/v1/verify", summary="Verify every hash and link")
    def verify(holder: Holder = Depends(anyone)) -> dict:
        return ledger.verify().to_dict()

    @app.post("/v1/lookup/volume", summary="Watermark blocks whose watermarked volume has this hash")
    def lookup_volume(body: VolumeLookup, holder: Holder = Depends(anyone)) -> list[dict]:
        return [public_block(block) for block in ledger.find_volume(body.hash)]

    @app.post("/v1/lookup/slices", summary="Recorded slices with these hashes: {position: [[block, slice]]}")
    def lookup_slices(body: SliceLookup, holder: Holder = Depends(anyone)) -> dict:
        return {str(position): places for position, places in ledger.find_slices(body.hashes).items()}

    @app.post("/v1/watermarks", status_code=201, summary="Append a watermark record (writer)")
    def append_watermark(body: WatermarkIn, holder: Holder = Depends(role(WRITER))) -> dict:
        key = SecretKey.from_hex(body.key)
        payload = dict(body.payload)
        try:
            fingerprint = payload["key"]["fingerprint"]
            context = seal_context(ledger.ledger_id, payload["message"], payload["watermarked_at"])
        except (KeyError, TypeError):
            raise HTTPException(422, "the payload is not a watermark record: it lacks key.fingerprint, message or watermarked_at") from None
        if fingerprint != key.fingerprint():
            raise HTTPException(422, "the key does not match the fingerprint in the payload")
        payload["key"] = ledger.seal(key, context) | {"fingerprint": fingerprint}
        try:
            check_watermark_payload(payload, body.slice_hashes)
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as error:
            raise HTTPException(422, f"the payload is not a valid watermark record: {error}") from None
        block = ledger.append(WATERMARK, payload, slice_hashes=body.slice_hashes, request_id=body.request_id)
        return public_block(block)

    @app.post("/v1/restorations", status_code=201, summary="Record a verified restoration (custodian)")
    def append_restoration(body: RestoreIn, holder: Holder = Depends(role(CUSTODIAN))) -> dict:
        _record(body.block)
        payload = {"block": body.block, "restored_hash": body.restored_hash, "verified": True} | holder.actor()
        return public_block(ledger.append(RESTORE, payload, request_id=body.request_id))

    @app.get("/v1/blocks/{index}/key", summary="Read the secret key of a watermark block (custodian; recorded)")
    def read_key(index: BlockIndex, holder: Holder = Depends(role(CUSTODIAN))) -> dict:
        _record(index)
        key = logic.read_key(index, holder.actor())
        return {"block": index, "key": key.hex(), "audit_block": ledger.last_block().index}

    @app.post(
        "/v1/checks",
        summary="Leak check of a volume (auditor; recorded)",
        description="The body is the suspect volume as a NumPy .npy file, optionally deflated (Content-Encoding: "
        "deflate). The CT-like benchmark volume of 512x512x300 int16 is 150 MiB as .npy, 67 MiB deflated.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def check(
        request: Request, orientations: bool = Query(True), holder: Holder = Depends(role(AUDITOR))
    ) -> dict:
        volume = _volume(await _body(request, max_upload_bytes), request.headers.get("content-encoding"), max_upload_bytes)
        finding = await run_in_threadpool(logic.check, volume, orientations=orientations, actor=holder.actor())
        return finding.to_dict() | {"audit_block": ledger.last_block().index}

    def _block(index: int) -> Block:
        try:
            return ledger.block(index)
        except LookupError as error:
            raise HTTPException(404, str(error)) from None

    def _record(index: int) -> WatermarkRecord:
        found = _block(index)
        if found.kind != WATERMARK:
            raise HTTPException(404, f"block {index} is a {found.kind} block, not a watermark record")
        return WatermarkRecord(found)

    return app


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is larger than the server's limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the upload is larger than the server's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _volume(body: bytes, encoding: str | None, limit: int) -> np.ndarray:
    if not body:
        raise HTTPException(400, "the request body is empty: send the suspect volume as a .npy file")
    if encoding:
        if encoding.lower() != "deflate":
            raise HTTPException(415, f"unsupported Content-Encoding {encoding!r}: send deflate or none")
        inflater = zlib.decompressobj()
        try:
            body = inflater.decompress(body, limit)
        except zlib.error:
            raise HTTPException(400, "the deflated body is corrupt") from None
        if inflater.unconsumed_tail:
            raise HTTPException(413, f"the inflated upload is larger than the server's limit of {limit} bytes")
    try:
        volume = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise HTTPException(400, f"the body is not a NumPy .npy volume ({error})") from None
    if not isinstance(volume, np.ndarray):
        raise HTTPException(400, "the body holds several arrays: send one volume saved with numpy.save")
    if volume.ndim not in (2, 3):
        raise VolumeError(f"expected a 2D slice or a 3D stack of slices, got shape {volume.shape}")
    return volume
