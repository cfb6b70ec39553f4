"""The official Python SDK (PyPI `mcp` 2.x), two ways: `ClientSession` over `stdio_client` (the
initialize handshake, protocol 2025-11-25) and `Client(StdioServerParameters, mode="auto")`
(server/discover, protocol 2026-07-28). Both validate the structuredContent of non-error results
against the listed outputSchema in `call_tool` and raise RuntimeError when it does not conform.
Runs the cases of cases.json (see common.ts for their format). Run by .ci/clients with the venv's
python: python_client.py [session|client]...
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client

# Seconds one request may take before the client gives up (the slowest case takes about one).
READ_TIMEOUT = 120

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


async def with_session(report: Report) -> None:
    """ClientSession over stdio_client: the initialize handshake (protocol 2025-11-25)."""
    params, home = server_params()
    try:
        async with stdio_client(params) as (read, write), ClientSession(read, write, read_timeout_seconds=READ_TIMEOUT) as session:
            init = await session.initialize()
            problems = []
            if init.server_info.name != "mcp-conductor" or init.protocol_version != "2025-11-25":
                problems.append(f"server {init.server_info.name}, protocol {init.protocol_version}")
            report.check("initialize: server mcp-conductor, protocol 2025-11-25", problems)
            check_tools(report, (await session.list_tools()).tools)
            await run_cases(report, lambda tool, args: session.call_tool(tool, args))
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def with_client(report: Report) -> None:
    """Client(mode="auto"): server/discover first (protocol 2026-07-28), initialize as fallback."""
    params, home = server_params()
    try:
        async with Client(params, mode="auto", read_timeout_seconds=READ_TIMEOUT) as client:
            info = client.server_info
            problems = []
            if client.protocol_version != "2026-07-28" or (info is not None and info.name != "mcp-conductor"):
                problems.append(f"server {info}, protocol {client.protocol_version}")
            report.check("connect: protocol 2026-07-28", problems)
            check_tools(report, (await client.list_tools()).tools)
            await run_cases(report, lambda tool, args: client.call_tool(tool, args))
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def main(modes: list[str]) -> int:
    ok = True
    for mode in modes:
        label = os.environ.get("CLIENT_LABEL", "python") + "-" + mode
        report = Report(label)
        try:
            await (with_session if mode == "session" else with_client)(report)
        except BaseException as e:  # noqa: BLE001 - report the abort, then the summary
            print(f"FAIL [{label}] aborted: {error_text(e)}", flush=True)
            report.failures.append(f"aborted: {error_text(e)}")
        ok = report.finish() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    modes = sys.argv[1:] or ["session", "client"]
    if any(m not in ("session", "client") for m in modes):
        raise SystemExit("usage: python_client.py [session|client]...")
    sys.exit(anyio.run(main, modes))
