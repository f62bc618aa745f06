"""A real HTTP server on 127.0.0.1 that answers like Zenodo's records API, for the zenodo source's
tests: GET /api/records/ID gives {"files": [{"key", "size", "checksum": "md5:...", "links": {"self"}}]};
GET or HEAD on a file's link gives its bytes. It counts the GETs of each path, can drop the
connection half-way through a file, can list a wrong checksum, and can serve an edited (hostile)
listing."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LAST_MODIFIED = "Mon, 31 Oct 2022 12:00:00 GMT"  # the records' publication, long before any download


@dataclass
class Records:
    files: dict[int, list[Path]]  # record id -> its files
    wrong_md5: set[str] = field(default_factory=set)  # keys listed with a wrong checksum
    drop_once: set[str] = field(default_factory=set)  # keys whose first GET stops half-way
    gets: Counter = field(default_factory=Counter)  # path -> GET count
    base_url: str = ""
    # Edits a record's listing entries before they are served (hostile listings): (record, entries, base_url) -> entries.
    edit: Callable[[int, list[dict], str], list[dict]] | None = None

    def listing(self, record: int) -> dict:
        entries = []
        for path in self.files[record]:
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            if path.name in self.wrong_md5:
                md5 = "0" * 32
            link = f"{self.base_url}/api/records/{record}/files/{path.name}/content"
            entries.append(
                {"key": path.name, "size": path.stat().st_size, "checksum": f"md5:{md5}", "links": {"self": link}}
            )
        if self.edit is not None:
            entries = self.edit(record, entries, self.base_url)
        return {"id": record, "files": entries}

    def file(self, record: int, key: str) -> Path | None:
        return next((p for p in self.files.get(record, []) if p.name == key), None)


def _handler(records: Records) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def _route(self, head: bool) -> None:
            parts = self.path.strip("/").split("/")
            if not head:
                records.gets[self.path] += 1
            if (
                len(parts) == 3
                and parts[:2] == ["api", "records"]
                and parts[2].isdigit()
                and int(parts[2]) in records.files
            ):
                body = json.dumps(records.listing(int(parts[2]))).encode()
                self._send(body, "application/json", head)
            elif len(parts) == 6 and parts[:2] == ["api", "records"] and parts[3] == "files" and parts[5] == "content":
                path = records.file(int(parts[2]), parts[4]) if parts[2].isdigit() else None
                if path is None:
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if not head and path.name in records.drop_once:
                    records.drop_once.discard(path.name)
                    self._send(body[: len(body) // 2], "application/octet-stream", head, length=len(body))
                    self.close_connection = True
                    self.connection.shutdown(2)  # the network went away mid-file
                    return
                self._send(body, "application/octet-stream", head)
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str, head: bool, length: int | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            if not head:
                self.wfile.write(body)
                self.wfile.flush()

        def do_GET(self) -> None:
            self._route(head=False)

        def do_HEAD(self) -> None:
            self._route(head=True)

    return Handler


@contextmanager
def serve(records: Records) -> Iterator[Records]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(records))
    records.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield records
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
