"""The remote ledger: a ledger server over HTTP(S), behind the same interface as the local ledger.

One `requests.Session`, a timeout on every call, TLS verification on by default, retries only where they are safe
(reads, and appends, which carry a request id so that a retry after a lost reply never makes a second block). Errors
become the library's own exceptions with messages a user can act on.
"""

from __future__ import annotations

import io
import os
import secrets
import time
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
import requests

from ..errors import LedgerError, MasterKeyError, NotRecordedError
from ..watermark import SecretKey
from .blocks import RESTORE, WATERMARK, Block
from .chain import VerifyReport

TOKEN_ENVIRONMENT_VARIABLE = "PAROMA_TOKEN"


class RemoteLedgerError(LedgerError):
    """The ledger server could not be reached, refused the request, or failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteLedger:
    """A ledger kept by a ParomaWatermark ledger server (`paroma-watermark serve`)."""

    remote = True
    """Leak checks run on the server, where the keys are."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        check_timeout: float = 600.0,
        retries: int = 3,
        verify: bool | str = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.path = self.url
        token = token or os.environ.get(TOKEN_ENVIRONMENT_VARIABLE)
        if not token:
            raise RemoteLedgerError(f"a token is needed for the ledger server {self.url}: pass --token or set {TOKEN_ENVIRONMENT_VARIABLE}")
        self.timeout, self.check_timeout, self.retries = timeout, check_timeout, retries
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._verify = verify
        self._info: dict | None = None

    # Reading

    @property
    def ledger_id(self) -> str:
        return self._ledger_info()["ledger_id"]

    def _ledger_info(self, refresh: bool = False) -> dict:
        if self._info is None or refresh:
            self._info = self._request("GET", "/v1/ledger")
        return self._info

    def __len__(self) -> int:
        return self._ledger_info(refresh=True)["blocks"]

    def watermark_count(self) -> int:
        return self._ledger_info(refresh=True)["watermarks"]

    def block(self, index: int) -> Block:
        try:
            return Block.from_dict(self._request("GET", f"/v1/blocks/{int(index)}"))
        except RemoteLedgerError as error:
            if error.status == 404:
                raise LookupError(str(error)) from None
            raise

    def last_block(self) -> Block:
        return self.block(self._ledger_info(refresh=True)["blocks"] - 1)

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[Block]:
        stop = len(self) if stop is None else stop
        while start < stop:
            page = self._request("GET", "/v1/blocks", params={"start": start, "stop": min(stop, start + 1000)})
            if not page:
                return
            for data in page:
                yield Block.from_dict(data)
            start = page[-1]["index"] + 1

    def find_volume(self, volume_hash: str) -> list[Block]:
        return [Block.from_dict(d) for d in self._request("POST", "/v1/lookup/volume", json={"hash": volume_hash})]

    def find_slices(self, slice_hashes: Sequence[str]) -> dict[int, list[tuple[int, int]]]:
        found = self._request("POST", "/v1/lookup/slices", json={"hashes": list(slice_hashes)})
        return {int(position): [tuple(place) for place in places] for position, places in found.items()}

    def verify(self) -> VerifyReport:
        return VerifyReport(**self._request("GET", "/v1/verify"))

    # Writing

    def seal(self, key: SecretKey, context: str) -> dict:
        """The key is sealed by the server; until it is sent, the client only marks where it goes."""
        return {"unsealed": key.hex()}

    def append(
        self, kind: str, payload: dict, *, slice_hashes: Sequence[str] | None = None, request_id: str | None = None
    ) -> Block:
        """Append a watermark record (writer) or a restoration record (custodian); the server records checks itself."""
        request_id = request_id or secrets.token_hex(16)
        if kind == WATERMARK:
            key = payload["key"]
            body = {
                "payload": payload | {"key": {k: v for k, v in key.items() if k != "unsealed"}},
                "slice_hashes": list(slice_hashes or ()),
                "key": key["unsealed"],
                "request_id": request_id,
            }
            return Block.from_dict(self._request("POST", "/v1/watermarks", json=body, retry=True))
        if kind == RESTORE:
            body = {"block": payload["block"], "restored_hash": payload["restored_hash"], "request_id": request_id}
            return Block.from_dict(self._request("POST", "/v1/restorations", json=body, retry=True))
        raise LedgerError(f"{kind} blocks are appended by the ledger server itself, not by its clients")

    # Keys and checks

    def key_for(self, record) -> SecretKey:
        """Read a record's secret key from the server (custodian role; the server records the read)."""
        return SecretKey.from_hex(self._request("GET", f"/v1/blocks/{record.index}/key")["key"])

    def check(self, volume: np.ndarray, *, orientations: bool = True):
        """Run a leak check on the server (auditor role): the volume is sent as a deflated .npy file."""
        from ..detection import Finding

        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(volume), allow_pickle=False)
        body = zlib.compress(buffer.getvalue(), 1)
        data = self._request(
            "POST",
            "/v1/checks",
            params={"orientations": str(orientations).lower()},
            data=body,
            headers={"Content-Type": "application/octet-stream", "Content-Encoding": "deflate"},
            timeout=self.check_timeout,
        )
        data.pop("audit_block", None)
        return Finding(**(data | {"slices": tuple(data["slices"])}))

    @property
    def master_key(self):
        raise MasterKeyError("the master key of a remote ledger stays on the server")

    def export_json(self, path) -> VerifyReport:
        raise LedgerError("export the ledger on the server's host: paroma-watermark ledger export FILE --ledger PATH")

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"RemoteLedger({self.url!r})"

    # HTTP

    def _request(self, method: str, path: str, *, retry: bool | None = None, timeout: float | None = None, **kwargs):
        """One call, retried on connection failures and 502/503/504 when it is safe (reads, and appends with ids)."""
        retry = (method == "GET" or path.startswith("/v1/lookup")) if retry is None else retry
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            try:
                response = self._session.request(
                    method, self.url + path, timeout=timeout or self.timeout, verify=self._verify, **kwargs
                )
            except requests.exceptions.SSLError as error:
                raise RemoteLedgerError(f"TLS with {self.url} failed ({error}); check the server's certificate") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
                if not last:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise RemoteLedgerError(
                    f"the ledger server {self.url} cannot be reached ({type(error).__name__}); check the URL and that "
                    "the server is running"
                ) from None
            if response.status_code in (502, 503, 504) and not last:
                time.sleep(0.2 * 2**attempt)
                continue
            return self._answer(response)

    def _answer(self, response: requests.Response):
        if response.ok:
            return response.json()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:200]
        if isinstance(detail, list):
            detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
        status = response.status_code
        if status == 401:
            raise RemoteLedgerError(f"the ledger server refused the token ({detail}); check --token or {TOKEN_ENVIRONMENT_VARIABLE}", status)
        if status == 403:
            raise RemoteLedgerError(f"not allowed: {detail}; this needs a token with another role", status)
        if status == 404 and "not a watermarked copy" in str(detail):
            raise NotRecordedError(str(detail))
        if status < 500:
            raise RemoteLedgerError(f"the ledger server refused the request: {detail}", status)
        raise RemoteLedgerError(f"the ledger server failed ({status}): {detail}; try again, or tell its administrator", status)
