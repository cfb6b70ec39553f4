"""The official Python SDK (PyPI `mcp` 2.x), two ways: `ClientSession` over `stdio_client` (the
initialize handshake, protocol 2025-11-25) and `Client(StdioServerParameters, mode="auto")`
(server/discover, protocol 2026-07-28). Both validate the structuredContent of non-error results
against the listed outputSchema in `call_tool` and raise RuntimeError when it does not conform.
With --http, the same two over streamable HTTP against `mcp-conductor http --port 0` (one server
per mode) with a bearer token: `streamable_http_client(url, http_client=httpx2.AsyncClient(
headers={"Authorization": ...}))` (the SDK's HTTP client is httpx2), under `ClientSession`, and
passed as the transport to `Client(..., mode="auto")` (a URL string alone cannot carry headers);
first, without the header, each must fail to connect, its first POST answered 401.
Runs the cases of cases.json (see common.ts for their format). Run by .ci/clients with the venv's
python: python_client.py [--http] [session|client]...
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

# Seconds one request may take before the client gives up (the slowest case takes about one).
READ_TIMEOUT = 120

# The call in flight when the server is SIGTERMed, and what it returns (as in common.ts).
DRAIN_CODE = "await new Promise((r) => setTimeout(r, 2000)); 'finished during the drain'"
DRAIN_VALUE = "finished during the drain"

TOOLS = ["run_deno_code", "list_playbooks", "get_playbook", "create_playbook", "list_mcp_servers", "get_tools"]


def server_params() -> tuple[StdioServerParameters, Path]:
    """The conductor binary with a fresh temp HOME, workspace and upstream config."""
    try:
        binary, upstream = os.environ["MCP_CONDUCTOR_BIN"], os.environ["MCP_CONDUCTOR_UPSTREAM_BIN"]
    except KeyError as e:
        raise SystemExit(f"{e.args[0]} is not set (run these scripts through .ci/clients)") from e
    home = Path(tempfile.mkdtemp(prefix="conductor-client-")).resolve()
    workspace = home / "workspace"
    workspace.mkdir()
    config = home / "mcp-config.json"
    config.write_text(json.dumps({"mcpServers": {"up": {"command": upstream}}}))
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MCP_CONDUCTOR_WORKSPACE": str(workspace),
        "MCP_CONDUCTOR_MCP_CONFIG": str(config),
        "MCP_CONDUCTOR_MAX_RETURN_BYTES": "1000",
        "MCP_CONDUCTOR_MAX_OUTPUT_BYTES": "2000",
        "MCP_CONDUCTOR_MAX_MEMORY_MB": "64",
        "MCP_CONDUCTOR_LOG": "warn",
    }
    return StdioServerParameters(command=binary, args=["stdio"], env=env), home


class Report:
    def __init__(self, client: str) -> None:
        self.client = client
        self.passed = 0
        self.failures: list[str] = []

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failures.append(f"{name}: {'; '.join(problems)}")
            print(f"FAIL [{self.client}] {name}: {'; '.join(problems)}", flush=True)
        else:
            self.passed += 1
            print(f"ok   [{self.client}] {name}", flush=True)

    def finish(self) -> bool:
        if self.failures:
            print(f"[{self.client}] failures:")
            for f in self.failures:
                print(f"  - {f}")
        print(f"{self.client}: {self.passed} passed, {len(self.failures)} failed", flush=True)
        return not self.failures


def error_text(e: BaseException) -> str:
    if isinstance(e, MCPError):
        return f"MCPError {e.code}: {e.message}"
    return f"{type(e).__name__}: {e}"


def check_tools(report: Report, tools: list[Any]) -> None:
    names = sorted(t.name for t in tools)
    report.check("tools/list: the six tools", [] if names == sorted(TOOLS) else [f"got {names}"])
    for name in TOOLS:
        tool = next((t for t in tools if t.name == name), None)
        problems = []
        if tool is None:
            problems.append("missing")
        elif not isinstance(tool.input_schema, dict) or tool.input_schema.get("type") != "object":
            problems.append(f"inputSchema {tool.input_schema!r}")
        if name == "run_deno_code":
            out = tool.output_schema if tool else None
            if not isinstance(out, dict) or out.get("type") != "object" or "properties" not in out:
                problems.append(f"outputSchema {out!r}")
        what = "inputSchema and outputSchema" if name == "run_deno_code" else "an inputSchema"
        report.check(f"tools/list: {name} has {what}", problems)


# Patterns: see cases.json and common.ts (the same rules).
def type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def show(v: Any) -> str:
    s = json.dumps(v, separators=(",", ":"))
    return s if len(s) <= 200 else s[:200] + "…"


def match(pattern: Any, actual: Any, path: str = "$") -> list[str]:
    if isinstance(pattern, dict):
        if "$type" in pattern:
            return [] if type_of(actual) == pattern["$type"] else [f"{path}: expected a {pattern['$type']}, got {show(actual)}"]
        if "$gt" in pattern:
            ok = type_of(actual) == "number" and actual > pattern["$gt"]
            return [] if ok else [f"{path}: expected > {pattern['$gt']}, got {show(actual)}"]
        if "$contains" in pattern:
            ok = isinstance(actual, str) and pattern["$contains"] in actual
            return [] if ok else [f"{path}: expected a string containing {show(pattern['$contains'])}, got {show(actual)}"]
        if "$some" in pattern:
            if not isinstance(actual, list):
                return [f"{path}: expected an array, got {show(actual)}"]
            ok = any(not match(pattern["$some"], a) for a in actual)
            return [] if ok else [f"{path}: no element matches {show(pattern['$some'])} in {show(actual)}"]
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {show(actual)}"]
        problems = []
        for key, p in pattern.items():
            if isinstance(p, dict) and p.get("$absent") is True:
                if key in actual:
                    problems.append(f"{path}.{key}: expected absent, got {show(actual[key])}")
            elif key not in actual:
                problems.append(f"{path}.{key}: missing (expected {show(p)})")
            else:
                problems.extend(match(p, actual[key], f"{path}.{key}"))
        return problems
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            return [f"{path}: expected {show(pattern)}, got {show(actual)}"]
        return [m for i, p in enumerate(pattern) for m in match(p, actual[i], f"{path}[{i}]")]
    same = type_of(pattern) == type_of(actual) and pattern == actual
    return [] if same else [f"{path}: expected {show(pattern)}, got {show(actual)}"]


def substitute(value: Any, saved: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{\{(\w+)\}\}", value)
        if whole and whole.group(1) in saved:
            return saved[whole.group(1)]
        return re.sub(r"\{\{(\w+)\}\}", lambda m: str(saved.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def load_cases() -> list[dict[str, Any]]:
    path = os.environ.get("CLIENT_CASES") or str(Path(__file__).with_name("cases.json"))
    return json.loads(Path(path).read_text())["cases"]


async def run_cases(report: Report, call: Any) -> None:
    saved: dict[str, Any] = {}
    for case in load_cases():
        args = substitute(case["args"], saved)
        expect = substitute(case["expect"], saved)
        problems: list[str] = []
        result = None
        error: BaseException | None = None
        try:
            result = await call(case["tool"], args)
        except Exception as e:  # the client's error, JSON-RPC or validation
            error = e
        if "rpcError" in expect:
            want = expect["rpcError"]
            if error is None:
                problems.append(f"expected JSON-RPC error {want['code']}, got a result: {show(result.model_dump(mode='json', by_alias=True))}")
            else:
                code = error.code if isinstance(error, MCPError) else None
                if code != want["code"]:
                    problems.append(f"expected JSON-RPC error {want['code']}, got {code}: {error_text(error)}")
                if want.get("contains") and want["contains"] not in error_text(error):
                    problems.append(f"error lacks {show(want['contains'])}: {error_text(error)}")
            report.check(case["name"], problems)
            continue
        if "anyError" in expect:
            want = expect["anyError"].get("contains")
            if error is not None:
                if not isinstance(error, MCPError):
                    problems.append(f"not a JSON-RPC error: {error_text(error)}")
                if want and want not in error_text(error):
                    problems.append(f"error lacks {show(want)}: {error_text(error)}")
            elif not result.is_error:
                problems.append(f"expected an error, got {show(result.model_dump(mode='json', by_alias=True))}")
            elif want and want not in (getattr(result.content[0], "text", "") if result.content else ""):
                problems.append(f"error text lacks {show(want)}: {result.content}")
            report.check(case["name"], problems)
            continue
        if error is not None or result is None:
            report.check(case["name"], [f"call failed: {error_text(error)}" if error else "no result"])
            continue
        if bool(result.is_error) != bool(expect.get("isError", False)):
            problems.append(f"isError {result.is_error}, expected {bool(expect.get('isError', False))}")
        first = result.content[0] if result.content else None
        text = first.text if first is not None and first.type == "text" else None
        if text is None:
            problems.append(f"content[0] is not text: {result.content!r}"[:200])
        if "text" in expect and expect["text"] not in (text or ""):
            problems.append(f"text lacks {show(expect['text'])}: {(text or '')[:300]}")
        structured = result.structured_content
        if "result" in expect:
            parsed = None
            try:
                parsed = json.loads(text or "")
            except ValueError:
                problems.append(f"content[0].text is not JSON: {(text or '')[:200]}")
            if parsed is not None:
                problems.extend(match(expect["result"], parsed, "text"))
            problems.extend(match(expect["result"], structured, "structuredContent"))
            if case["tool"] == "run_deno_code" and parsed is not None and isinstance(structured, dict):
                rest = {k: v for k, v in structured.items() if k not in ("stdout", "stderr")}
                if rest != parsed:
                    problems.append(f"structuredContent (without stdout/stderr) differs from the text item: {show(rest)} vs {(text or '')[:300]}")
        if "structured" in expect:
            problems.extend(match(expect["structured"], structured, "structuredContent"))
        for name, path in case.get("save", {}).items():
            v = structured
            for key in path:
                try:
                    v = v[key]
                except (KeyError, IndexError, TypeError):
                    v = None
                    break
            if v is None:
                problems.append(f"nothing at {'.'.join(map(str, path))} to save as {name}")
            else:
                saved[name] = v
        report.check(case["name"], problems)


class HttpServer:
    """`<bin> http --port 0` with the environment of `params` and a random bearer token in a file
    in the temp HOME (MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE). Its stderr is passed through to ours
    (the `listening on <url>` line gives the URL); its stdout is collected (it should stay empty)."""

    LISTENING = re.compile(r"listening on (http://\S+)")

    def __init__(self, params: StdioServerParameters, home: Path) -> None:
        self.token = secrets.token_hex(24)
        token_file = home / "http-token"
        token_file.write_text(self.token + "\n")
        token_file.chmod(0o600)
        env = {**(params.env or {}), "MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE": str(token_file)}
        self.proc = subprocess.Popen(
            [params.command, "http", "--port", "0"], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # Should this script die before stop(), the server goes too.
        atexit.register(lambda: self.proc.poll() is None and self.proc.kill())
        self.url: str | None = None
        self.stdout = ""
        self._listening = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            sys.stderr.write(f"[server] {line}")
            sys.stderr.flush()
            m = self.LISTENING.search(line)
            if m and self.url is None:
                self.url = m.group(1)
                self._listening.set()
        self._listening.set()  # exited: wake the waiter

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()

    async def wait_listening(self) -> str:
        await anyio.to_thread.run_sync(self._listening.wait, 30)
        if self.url is None:
            self.proc.kill()
            raise RuntimeError(f"no 'listening on' line on the HTTP server's stderr (exit code {self.proc.poll()})")
        return self.url

    def stop_blocking(self) -> tuple[int | None, float, bool]:
        """SIGTERM, then up to 10 s for the exit (SIGKILL after): (exit code, seconds, timed out)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
            timed_out = False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            timed_out = True
        self._stdout_reader.join(5)
        return code, time.monotonic() - t0, timed_out

    async def stop(self, report: Report, call: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        """SIGTERM; with `call`, while a call of this client runs, which must still get its result
        (the drain serves the session and its streams until the execution ends)."""
        outcome: dict[str, Any] = {}
        stopped: dict[str, Any] = {}

        async def in_flight() -> None:
            try:
                result = await call("run_deno_code", {"deno_code": DRAIN_CODE})
                outcome["value"] = (result.structured_content or {}).get("returnValue")
                outcome["result"] = result
            except Exception as e:  # noqa: BLE001 - reported below
                outcome["error"] = e

        async def sigterm() -> None:
            if call is not None:
                await anyio.sleep(0.5)
            stopped["r"] = await anyio.to_thread.run_sync(self.stop_blocking)

        async with anyio.create_task_group() as tg:
            if call is not None:
                tg.start_soon(in_flight)
            tg.start_soon(sigterm)
        if call is not None:
            problems = [] if outcome.get("value") == DRAIN_VALUE else [error_text(outcome["error"]) if "error" in outcome else f"result {outcome.get('result')!r}"[:300]]
            report.check("http: a call running when SIGTERM arrives still gets its result (drain)", problems)
        code, seconds, timed_out = stopped["r"]
        print(f"     [{report.client}] http: the server's exit came {seconds * 1000:.0f} ms after SIGTERM", flush=True)
        problems = ["still running after 10 s (SIGKILLed)"] if timed_out else ([] if code == 0 else [f"exit code {code} after {seconds:.1f} s"])
        report.check("http: the server exits 0 within 10 s of SIGTERM", problems)
        report.check("http: the server's stdout stays empty", [] if self.stdout == "" else [f"stdout {self.stdout[:300]!r}"])


def http_client(token: str | None, statuses: list[int] | None = None) -> httpx2.AsyncClient:
    """An httpx2 client sending the bearer token (none if None), recording response statuses."""

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=READ_TIMEOUT), event_hooks={"response": [record]})


async def check_unauthenticated(report: Report, url: str, use_client: bool) -> None:
    """Without the Authorization header connecting must fail, its first POST refused with 401."""
    what = "connecting with Client" if use_client else "initialize"
    name = f"http: {what} without Authorization fails with 401"
    statuses: list[int] = []
    try:
        with anyio.fail_after(30):
            async with http_client(None, statuses) as http:
                if use_client:
                    async with Client(streamable_http_client(url, http_client=http), mode="auto", read_timeout_seconds=READ_TIMEOUT):
                        pass
                else:
                    async with (
                        streamable_http_client(url, http_client=http) as (read, write),
                        ClientSession(read, write, read_timeout_seconds=READ_TIMEOUT) as session,
                    ):
                        await session.initialize()
        report.check(name, [f"connected (HTTP statuses {statuses})"])
    except Exception as e:  # the SDK's error for the refused POST
        report.check(name, [] if statuses[:1] == [401] else [f"HTTP statuses {statuses}: {error_text(e)}"])


@asynccontextmanager
async def transport(http: bool) -> AsyncIterator[tuple[Any, Callable[[httpx2.AsyncClient], Any] | None, HttpServer | None]]:
    """(stdio parameters, or a factory of the streamable HTTP transport; the HTTP server if any)."""
    params, home = server_params()
    server: HttpServer | None = None
    try:
        if not http:
            yield params, None, None
            return
        server = HttpServer(params, home)
        url = await server.wait_listening()
        # No DELETE on close: the server is stopped under the open session (see with_session).
        yield url, (lambda client: streamable_http_client(url, http_client=client, terminate_on_close=False)), server
    finally:
        if server is not None and server.proc.poll() is None:
            await anyio.to_thread.run_sync(server.stop_blocking)
        shutil.rmtree(home, ignore_errors=True)


async def check_logging(report: Report, session: ClientSession, lines: list[str]) -> None:
    """After logging/setLevel, printed lines reach the session's logging_callback."""
    problems = []
    try:
        await session.set_logging_level("info")
        await session.call_tool("run_deno_code", {"deno_code": "console.log('to the log'); 1"})
    except Exception as e:
        problems.append(f"call failed: {e!r}")
    # Over HTTP with a session, rmcp sends logging notifications on the standalone GET stream
    # (only progress and cancellation ride the call's own stream), so a line may arrive just
    # after the result: wait for it, bounded.
    for _ in range(50):
        if "to the log" in lines:
            break
        await anyio.sleep(0.1)
    if "to the log" not in lines:
        problems.append(f"logging callbacks {lines}")
    report.check("run_deno_code: printed lines reach the logging_callback", problems)


async def check_progress(report: Report, session: ClientSession) -> None:
    """progress() in code reaches call_tool's progress_callback; the last report always arrives."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    code = "progress(1, 2, 'half'); progress(2, 2, 'done'); 'ok'"
    problems = []
    try:
        result = await session.call_tool("run_deno_code", {"deno_code": code}, progress_callback=on_progress)
        if (result.structured_content or {}).get("returnValue") != "ok":
            problems.append(f"result {result.structured_content}")
    except Exception as e:
        problems.append(f"call failed: {e!r}")
    if not seen or seen[-1] != (2, 2, "done"):
        problems.append(f"progress callbacks {seen}")
    report.check("run_deno_code: progress() reaches the progress_callback", problems)


async def with_session(report: Report, http: bool) -> None:
    """ClientSession over stdio_client or streamable_http_client: the initialize handshake (protocol 2025-11-25)."""

    logged: list[str] = []

    async def on_log(params: Any) -> None:
        logged.append(params.data if isinstance(params.data, str) else str(params.data))

    async def run(session: ClientSession) -> None:
        init = await session.initialize()
        problems = []
        if init.server_info.name != "mcp-conductor" or init.protocol_version != "2025-11-25":
            problems.append(f"server {init.server_info.name}, protocol {init.protocol_version}")
        report.check("initialize: server mcp-conductor, protocol 2025-11-25", problems)
        check_tools(report, (await session.list_tools()).tools)
        await run_cases(report, lambda tool, args: session.call_tool(tool, args))
        await check_progress(report, session)
        await check_logging(report, session, logged)

    async with transport(http) as (target, make_http, server):
        if server is None:
            async with stdio_client(target) as (read, write), ClientSession(read, write, read_timeout_seconds=READ_TIMEOUT, logging_callback=on_log) as session:
                await run(session)
            return
        await check_unauthenticated(report, target, use_client=False)
        async with (
            http_client(server.token) as client,
            make_http(client) as (read, write),
            ClientSession(read, write, read_timeout_seconds=READ_TIMEOUT, logging_callback=on_log) as session,
        ):
            await run(session)
            # SIGTERM with the session still open and a call running, as when a server is stopped under its clients.
            await server.stop(report, lambda tool, args: session.call_tool(tool, args))


async def with_client(report: Report, http: bool) -> None:
    """Client(mode="auto"): server/discover first (protocol 2026-07-28), initialize as fallback."""

    async def run(client: Client) -> None:
        info = client.server_info
        problems = []
        if client.protocol_version != "2026-07-28" or (info is not None and info.name != "mcp-conductor"):
            problems.append(f"server {info}, protocol {client.protocol_version}")
        report.check("connect: protocol 2026-07-28", problems)
        check_tools(report, (await client.list_tools()).tools)
        await run_cases(report, lambda tool, args: client.call_tool(tool, args))

    async with transport(http) as (target, make_http, server):
        if server is None:
            async with Client(target, mode="auto", read_timeout_seconds=READ_TIMEOUT) as client:
                await run(client)
            return
        await check_unauthenticated(report, target, use_client=True)
        async with http_client(server.token) as http_, Client(make_http(http_), mode="auto", read_timeout_seconds=READ_TIMEOUT) as client:
            await run(client)
            # SIGTERM with a call running, as when a server is stopped under its clients.
            await server.stop(report, lambda tool, args: client.call_tool(tool, args))


async def main(modes: list[str], http: bool) -> int:
    ok = True
    for mode in modes:
        label = os.environ.get("CLIENT_LABEL", "python-http" if http else "python") + "-" + mode
        report = Report(label)
        try:
            await (with_session if mode == "session" else with_client)(report, http)
        except BaseException as e:  # noqa: BLE001 - report the abort, then the summary
            print(f"FAIL [{label}] aborted: {error_text(e)}", flush=True)
            report.failures.append(f"aborted: {error_text(e)}")
        ok = report.finish() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    http = "--http" in args
    modes = [a for a in args if a != "--http"] or ["session", "client"]
    if any(m not in ("session", "client") for m in modes):
        raise SystemExit("usage: python_client.py [--http] [session|client]...")
    sys.exit(anyio.run(main, modes, http))
