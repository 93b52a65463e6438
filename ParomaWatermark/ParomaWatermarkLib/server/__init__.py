"""The ledger server (`paroma-watermark serve`): the ledger over HTTP for a network of hospitals.

Needs the `server` extra (FastAPI and uvicorn): pip install 'paroma-watermark[server]'.
"""
