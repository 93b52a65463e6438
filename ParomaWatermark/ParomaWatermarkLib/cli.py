"""The `paroma-watermark` command: batch watermarking, leak checks, restoration and ledger audits from a terminal.

Exit codes: 0 success (check: traced; ledger verify: intact), 1 the negative answer (check: no watermark detected;
ledger verify: broken; embed: some inputs failed), 2 an error (one line on stderr saying what to do).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from . import __version__
from .errors import ParomaError
from .ledger.remote import TOKEN_ENVIRONMENT_VARIABLE
from .logic import LEDGER_ENVIRONMENT_VARIABLE, ParomaWatermarkLogic
from .server.tokens import ENVIRONMENT_VARIABLE as TOKENS_ENVIRONMENT_VARIABLE
from .volumes.files import is_dicom_series_folder

EXIT_OK, EXIT_NEGATIVE, EXIT_ERROR = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("paroma-watermark: interrupted; nothing half-written was kept", file=sys.stderr)
        return EXIT_ERROR
    except (ParomaError, OSError, ValueError, LookupError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"paroma-watermark {args.command}: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paroma-watermark",
        description="Reversible watermarking of medical volumes, with a hash-chained ledger to trace leaked copies.",
        epilog=f"The ledger defaults to ${LEDGER_ENVIRONMENT_VARIABLE}, else ledger.db in the user's data folder "
        "(~/.local/share/ParomaWatermark on Linux). The master key comes from $PAROMA_LEDGER_KEY or the key file "
        "beside the ledger (<ledger>.key), created with owner-only permissions on first use.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, run) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        sub.add_argument("--debug", action="store_true", help="show the full traceback of an error")
        return sub

    def ledger_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--ledger", help=f"ledger file or server URL (default: ${LEDGER_ENVIRONMENT_VARIABLE} or the per-user ledger)")
        sub.add_argument("--token", help=f"bearer token for a ledger server (default: ${TOKEN_ENVIRONMENT_VARIABLE})")

    embed = command("embed", "watermark volumes for a recipient and record each copy in the ledger", _embed)
    embed.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                       help="volume files or DICOM series folders, or a folder of them")
    embed.add_argument("output", type=Path, metavar="OUTPUT",
                       help="the watermarked copy (one input) or a folder for the copies (several inputs)")
    embed.add_argument("--paroma-id", required=True, help="the PAROMA ID of the data")
    embed.add_argument("--recipient", required=True, help="the data scientist's ID")
    ledger_option(embed)
    embed.add_argument("--json", action="store_true", help="print one JSON object per copy")

    check = command("check", "whose copy is this volume? (exit 0: traced, 1: no watermark detected)", _check)
    check.add_argument("input", type=Path, metavar="INPUT", help="a volume file or DICOM series folder")
    ledger_option(check)
    check.add_argument("--json", action="store_true", help="print the finding as JSON")

    restore = command("restore", "restore the exact original of a watermarked copy", _restore)
    restore.add_argument("input", type=Path, metavar="INPUT")
    restore.add_argument("output", type=Path, metavar="OUTPUT")
    ledger_option(restore)
    restore.add_argument("--json", action="store_true", help="print the result as JSON")

    ledger = command("ledger", "inspect, verify and export the ledger", lambda args: _usage(args, ledger))
    audits = ledger.add_subparsers(dest="action", metavar="ACTION")

    def audit(name: str, help_text: str, run) -> argparse.ArgumentParser:
        sub = audits.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        sub.add_argument("--debug", action="store_true", help="show the full traceback of an error")
        ledger_option(sub)
        return sub

    verify = audit("verify", "verify every hash and link (exit 0: intact, 1: broken)", _verify)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    listing = audit("list", "one line per block", _list)
    listing.add_argument("--json", action="store_true", help="print the blocks as JSON")
    show = audit("show", "print one block in full", _show)
    show.add_argument("index", type=int, metavar="N")
    export = audit("export", "write the whole chain to a JSON file for auditors", _export)
    export.add_argument("file", type=Path, metavar="FILE")

    serve = command("serve", "run the ledger server (HTTP; 127.0.0.1 unless told otherwise)", _serve)
    serve.add_argument("--ledger", help="the ledger file, or a postgresql:// URL, that the server keeps (default: the per-user ledger)")
    serve.add_argument("--tokens", type=Path, help=f"the tokens file (default: ${TOKENS_ENVIRONMENT_VARIABLE})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--certfile", type=Path, help="TLS certificate (PEM); with --keyfile the server speaks HTTPS")
    serve.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    serve.add_argument("--max-upload-mb", type=int, default=1024, help="largest volume a leak check accepts (default 1024)")

    token = command("token", "create a bearer token for the ledger server", _token)
    token.add_argument("action", choices=["add"], help="add: create a token, print it once, store its hash")
    token.add_argument("--tokens", type=Path, required=True, help="the tokens file (created with owner-only permissions)")
    token.add_argument("--id", required=True, help="who holds the token, as audit blocks will name them")
    token.add_argument("--role", required=True, choices=["reader", "writer", "auditor", "custodian"])

    demo = command("demo", "the demonstration on a real scan, with its own ledger", _demo)
    demo.add_argument("--workdir", type=Path, help="folder for the demo's files and ledger (default: a new temporary folder)")
    demo.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _logic(args: argparse.Namespace) -> ParomaWatermarkLogic:
    return ParomaWatermarkLogic(ledger=args.ledger, token=args.token)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .server.app import create_app
    except ImportError:
        raise ValueError("the server needs FastAPI and uvicorn: pip install 'paroma-watermark[server]'") from None
    from .server.tokens import TokenRegistry

    if (args.certfile is None) != (args.keyfile is None):
        raise ValueError("TLS needs both --certfile and --keyfile")
    ledger = ParomaWatermarkLogic(ledger=args.ledger).ledger
    if ledger.remote:
        raise ValueError("the server keeps a ledger file or a PostgreSQL database, not another server's URL")
    app = create_app(ledger, TokenRegistry.load(args.tokens), max_upload_bytes=args.max_upload_mb << 20)
    scheme = "https" if args.certfile else "http"
    print(f"paroma-watermark: serving {ledger.path} at {scheme}://{args.host}:{args.port} (API description at /docs)",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ssl_certfile=args.certfile and str(args.certfile), ssl_keyfile=args.keyfile and str(args.keyfile))
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from .server.tokens import add_token

    token = add_token(args.tokens, args.id, args.role)
    print(token)
    print(f"paroma-watermark token: {args.role} token for {args.id!r} stored (as a hash) in {args.tokens}; "
          "this is the only time it is shown", file=sys.stderr)
    return EXIT_OK


def _embed(args: argparse.Namespace) -> int:
    inputs = _expand(args.inputs)
    if len(inputs) == 1:
        record, volume = _logic(args).watermark_file(inputs[0], args.output, args.paroma_id, args.recipient)
        _report_copy(args, inputs[0], args.output, record, volume)
        return EXIT_OK
    if args.output.exists() and not args.output.is_dir():
        raise ValueError(f"{args.output} is a file, but {len(inputs)} inputs need an output folder")
    logic = _logic(args)
    failed = 0
    bar = _ProgressBar(len(inputs), enabled=len(inputs) > 1 and not args.json)
    for position, source in enumerate(inputs):
        target = args.output / source.name
        bar.show(position, source.name)
        try:
            record, volume = logic.watermark_file(source, target, args.paroma_id, args.recipient)
        except (ParomaError, OSError) as error:
            failed += 1
            bar.clear()
            print(f"paroma-watermark embed: {source}: {_one_line(error)}", file=sys.stderr)
            continue
        bar.clear()
        _report_copy(args, source, target, record, volume)
    bar.show(len(inputs), "done")
    bar.clear()
    if failed:
        print(f"paroma-watermark embed: {failed} of {len(inputs)} inputs failed; the others were watermarked", file=sys.stderr)
    return EXIT_NEGATIVE if failed else EXIT_OK


def _report_copy(args: argparse.Namespace, source: Path, target: Path, record, volume) -> None:
    summary = record.embed_summary
    if args.json:
        print(json.dumps({
            "input": str(source), "output": str(target), "block": record.index, "paroma_id": record.paroma_id,
            "recipient": record.recipient, "original_hash": record.original_hash,
            "watermarked_hash": record.watermarked_hash, "embed": summary, "notes": volume.notes,
        }))
        return
    print(
        f"{source} -> {target}: block {record.index}, {summary['carriers']} carriers, "
        f"{summary['distinct_bits']}/256 bits, {summary['voxels_changed']} voxels changed by at most "
        f"{summary['max_change']}, PSNR {float(summary['psnr_db']):.1f} dB"
    )
    for note in volume.notes:
        print(f"  note: {note}")


def _check(args: argparse.Namespace) -> int:
    finding = _logic(args).check_file(args.input)
    print(json.dumps(finding.to_dict()) if args.json else finding.summary())
    return EXIT_OK if finding.detected else EXIT_NEGATIVE


def _restore(args: argparse.Namespace) -> int:
    record, volume = _logic(args).restore_file(args.input, args.output)
    differs = (
        ["SOP Instance UIDs", "Series Instance UID", "Image Type", "Derivation Description", "transfer syntax (uncompressed)"]
        if volume.format == "DICOM" else []
    )
    if args.json:
        print(json.dumps({"input": str(args.input), "output": str(args.output), "block": record.index,
                          "original_hash": record.original_hash, "bit_exact": True, "attributes_differing": differs}))
    else:
        print(f"{args.output}: original of block {record.index} ({record.paroma_id}, copy of {record.recipient}) "
              f"restored bit for bit; its hash matches the ledger")
        if differs:
            print(f"  attributes that differ from the original file: {', '.join(differs)} "
                  "(the ledger keeps the pixel data's hash, not the original file's identifiers)")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    report = _logic(args).verify_ledger()
    print(json.dumps(report.to_dict()) if args.json else report.summary())
    return EXIT_OK if report.ok else EXIT_NEGATIVE


def _list(args: argparse.Namespace) -> int:
    ledger = _logic(args).ledger
    for block in ledger.blocks():
        if args.json:
            print(json.dumps({"index": block.index, "timestamp": block.timestamp, "kind": block.kind,
                              "summary": _block_summary(block)}))
        else:
            print(f"{block.index:6d}  {block.timestamp}  {block.kind:10s}  {_block_summary(block)}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    print(json.dumps(_logic(args).ledger.block(args.index).to_dict(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    report = _logic(args).ledger.export_json(args.file)
    print(f"{args.file}: {report.blocks} blocks exported, chain verified")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.main((["--workdir", str(args.workdir)] if args.workdir else []) + (["--json"] if args.json else []))


def _usage(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_ERROR


def _block_summary(block) -> str:
    p = block.payload
    if block.kind == "watermark":
        return f"{p['paroma_id']} for {p['recipient']}, {'x'.join(map(str, p['geometry']['shape']))} {p['geometry']['dtype']}"
    if block.kind == "leak_check":
        return f"traced to block {p['block']} by {p['method']}" if p["detected"] else "no watermark detected"
    if block.kind == "restore":
        return f"original of block {p['block']} restored"
    if block.kind == "genesis":
        return f"ledger {p['ledger_id']}"
    return ", ".join(f"{k}={v}" for k, v in sorted(p.items()))


def _expand(paths: list[Path]) -> list[Path]:
    """Inputs: files and DICOM series folders as given; any other folder stands for the inputs it holds."""
    inputs = []
    for path in paths:
        if not path.exists():
            raise ValueError(f"{path} does not exist")
        if path.is_dir() and not is_dicom_series_folder(path):
            entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            if not entries:
                raise ValueError(f"{path} is an empty folder")
            inputs += entries
        else:
            inputs.append(path)
    return inputs


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class _ProgressBar:
    """A one-line progress bar on stderr, shown only in a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()

    def show(self, done: int, label: str) -> None:
        if self.enabled:
            width = 30
            filled = width * done // max(1, self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {label[:40]:40s}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
