"""A local HTTP server for download tests: Range requests, and a mode that cuts connections mid-file."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class SlideServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path, cut_first_after: int | None = None):
        super().__init__(("127.0.0.1", 0), SlideHandler)
        self.folder = Path(folder)
        self.cut_first_after = cut_first_after  # bytes sent before the first response is cut
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class SlideHandler(BaseHTTPRequestHandler):
    server: SlideServer

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.server.folder / self.path.lstrip("/").split("?")[0]
        range_header = self.headers.get("Range")
        self.server.requests.append({"path": self.path, "range": range_header})
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if range_header:
            start = int(range_header.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        body = data[start:]
        if self.server.cut_first_after is not None and len(self.server.requests) == 1:
            self.wfile.write(body[: self.server.cut_first_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@contextlib.contextmanager
def serve(folder: Path, cut_first_after: int | None = None):
    server = SlideServer(folder, cut_first_after)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
