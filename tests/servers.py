"""Real servers for the tests: Mosquitto and InfluxDB 1.x (Debian packages) on free loopback ports.

Each server runs from a temporary directory with its own config and data, in its own process
group, and is stopped by PID. ``InfluxV2Proxy`` is the test-only translation that lets the official
client's v2 write API reach Debian's InfluxDB 1.6.7, which predates the v2 endpoint.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from vitalstream_app.access.pki import make_pki

REPO = Path(__file__).resolve().parent.parent
BROKER_POLICY_DIR = REPO / "deploy" / "mosquitto" / "conf.d"
SHIPPED_CONFIG = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
# Where the shipped config (for the eclipse-mosquitto image) expects the plugin.
SHIPPED_PLUGIN = "/usr/lib/mosquitto_dynamic_security.so"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def find_binary(name: str, *candidates: str) -> str | None:
    for candidate in (*candidates, shutil.which(name)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


class _Server:
    """A child process in its own session, stopped by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{name}.log"

    def _spawn(self, argv: list[str]) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir
        )
        log.close()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def make_test_pki(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made by the application's own
    ``vitalstream access certs`` code (openssl), valid for two days."""
    return make_pki(directory, hosts=["127.0.0.1"], days=2, ca_days=2)


def dynsec_plugin() -> str | None:
    """Mosquitto's dynamic-security plugin as Debian (multiarch) or the upstream image installs it."""
    for candidate in (*sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so")), Path(SHIPPED_PLUGIN)):
        if candidate.is_file():
            return str(candidate)
    return None


class MosquittoServer(_Server):
    """TEST-ONLY: Mosquitto with an *anonymous* listener, the repository's delivery policy
    (deploy/mosquitto/conf.d) and persistence on.

    For the tests of delivery, processing and storage, which are about those and not about access control.
    Nothing shipped looks like this: :class:`ShippedMosquitto` runs the shipped configuration, in which
    nobody is anonymous. With ``pki`` (from :func:`make_test_pki`) it also listens with TLS on ``tls_port``.
    """

    def __init__(
        self, binary: str, workdir: Path, *, port: int | None = None, pki: dict[str, Path] | None = None
    ) -> None:
        super().__init__("mosquitto", workdir)
        self.binary = binary
        self.port = port or free_port()
        self.tls_port = free_port() if pki else None
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        self.config.write_text(
            "# TEST-ONLY configuration (tests/servers.py): anonymous clients allowed; never shipped.\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Run as the invoking user: as root, mosquitto would drop to the 'mosquitto' user and then
            # could not write its persistence file in our temporary directory.
            f"user {user}\n"
            f"persistence_location {self.data_dir}/\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"include_dir {BROKER_POLICY_DIR}\n"
        )
        if pki:
            with self.config.open("a") as config:
                config.write(
                    f"listener {self.tls_port} 127.0.0.1\n"
                    f"cafile {pki['ca.crt']}\ncertfile {pki['server.crt']}\nkeyfile {pki['server.key']}\n"
                )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> MosquittoServer:
        self._spawn([self.binary, "-c", str(self.config)])
        try:
            wait_for_port(self.port)
            if self.tls_port:
                wait_for_port(self.tls_port)
        except TimeoutError:
            raise RuntimeError(f"mosquitto did not start:\n{self.log_tail()}") from None
        return self


class ShippedMosquitto(_Server):
    """Mosquitto running the shipped ``deploy/mosquitto/mosquitto.conf`` itself, as compose runs it.

    Only what differs between the container and this machine is mapped: the plugin's path, the
    ``/mosquitto/...`` directories (to ``workdir``) and the listener's port (a free one, on loopback); every
    other line is the shipped one. ``access`` is an output directory of ``vitalstream access build`` and
    ``vitalstream access certs``; its certificate and key, and (on the first start only) its
    dynamic-security file are copied where deploy/mosquitto/start.sh copies them in compose.
    """

    def __init__(self, binary: str, workdir: Path, *, access: Path, plugin: str) -> None:
        super().__init__("mosquitto", workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.access = access
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.secrets_dir = workdir / "secrets"
        self.config = workdir / "mosquitto.conf"
        self.ca_file = str(access / "certs" / "ca.crt")
        paths = {
            SHIPPED_PLUGIN: plugin,
            "/mosquitto/data/": f"{self.data_dir}/",
            "/mosquitto/secrets/": f"{self.secrets_dir}/",
            "/mosquitto/config/conf.d": str(BROKER_POLICY_DIR),
        }
        text = SHIPPED_CONFIG.read_text(encoding="utf-8")
        for shipped, local in paths.items():
            # Fail loudly if the shipped file changed shape, rather than quietly test something else.
            assert shipped in text, f"{SHIPPED_CONFIG} no longer mentions {shipped}"
            text = text.replace(shipped, local)
        assert text.count("\nlistener 8883\n") == 1, "the shipped config should have exactly one listener, 8883"
        text = text.replace("\nlistener 8883\n", f"\nlistener {self.port} 127.0.0.1\n")
        # Run as the invoking user (see MosquittoServer); the shipped file leaves it to the image (mosquitto).
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        self.config.write_text(f"user {user}\n{text}", encoding="utf-8")

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def dynsec_file(self) -> Path:
        return self.data_dir / "dynamic-security.json"

    def start(self) -> ShippedMosquitto:
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in ("server.crt", "server.key"):
            shutil.copyfile(self.access / "certs" / name, self.secrets_dir / name)
        (self.secrets_dir / "server.key").chmod(0o600)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.dynsec_file.exists():  # a seed, as in compose: afterwards the broker owns its file
            shutil.copyfile(self.access / "mosquitto" / "dynamic-security.json", self.dynsec_file)
            self.dynsec_file.chmod(0o600)
        self._spawn([self.binary, "-c", str(self.config)])
        try:
            wait_for_port(self.port)
        except TimeoutError:
            raise RuntimeError(f"mosquitto did not start:\n{self.log_tail()}") from None
        return self


class InfluxServer(_Server):
    """InfluxDB 1.x (``influxd``) with HTTP on a free port and all data in ``workdir``."""

    def __init__(self, binary: str, workdir: Path) -> None:
        super().__init__("influxd", workdir)
        self.binary = binary
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.config = workdir / "influxdb.conf"
        self.config.write_text(
            f"""
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.http_port}"
  log-enabled = false
  auth-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> InfluxServer:
        self._spawn([self.binary, "run", "-config", str(self.config)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                    if response.status == 204:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"influxd did not start:\n{self.log_tail()}")

    def query(self, q: str, *, db: str | None = None, method: str = "GET") -> dict[str, Any]:
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        request = urllib.request.Request(f"{self.url}/query?{urlencode(params)}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"', method="POST")

    def rows(self, db: str, q: str) -> list[dict[str, Any]]:
        document = self.query(q, db=db)
        rows: list[dict[str, Any]] = []
        for result in document.get("results", []):
            assert "error" not in result, result["error"]
            for series in result.get("series", []):
                tags = series.get("tags", {})
                rows.extend(
                    {**tags, **dict(zip(series["columns"], values, strict=True))} for values in series["values"]
                )
        return rows


_V2_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}


class InfluxV2Proxy:
    """Test-only: serves ``/api/v2/write`` by forwarding to an InfluxDB 1.x ``/write``.

    ``bucket=db/rp`` becomes ``db=db&rp=rp`` and v2 precision names become v1 ones; ``/health`` and
    ``/ping`` answer from the real server. Tests can make it answer with an error status for the
    next N writes (``fail_next``) to exercise back-pressure handling.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.writes = 0
        self._failures: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                return

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _upstream(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    passed = {k: v for k, v in response.getheaders() if k.lower() in {"content-type", "retry-after"}}
                    self._reply(response.status, data, passed)
                finally:
                    conn.close()

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/health":
                    body = b'{"name":"influxdb","message":"ready for queries and writes","status":"pass"}'
                    self._reply(200, body, {"Content-Type": "application/json"})
                elif path == "/ping":
                    self._upstream("GET", "/ping", None, {})
                else:
                    self._reply(404, b'{"code":"not found","message":"test proxy serves only the write path"}')

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if parts.path != "/api/v2/write":
                    self._reply(404, b'{"code":"not found"}')
                    return
                with proxy._lock:
                    failure = proxy._failures.pop(0) if proxy._failures else None
                    proxy.writes += 1
                if failure is not None:
                    status, retry_after = failure
                    headers = {"Content-Type": "application/json"}
                    if retry_after is not None:
                        headers["Retry-After"] = retry_after
                    self._reply(status, b'{"code":"unavailable","message":"injected by the test proxy"}', headers)
                    return
                query = parse_qs(parts.query)
                bucket = query.get("bucket", [""])[0]
                db, _, rp = bucket.partition("/")
                params = {"db": db, "precision": _V2_PRECISION.get(query.get("precision", ["ns"])[0], "n")}
                if rp:
                    params["rp"] = rp
                headers = {"Content-Type": self.headers.get("Content-Type", "text/plain")}
                if self.headers.get("Content-Encoding"):
                    headers["Content-Encoding"] = self.headers["Content-Encoding"]
                self._upstream("POST", f"/write?{urlencode(params)}", body, headers)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="influx-v2-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, *, status: int = 503, retry_after: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def start(self) -> InfluxV2Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
