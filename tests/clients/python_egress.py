"""The egress policy (docs/egress.md) through the official Python SDK over stdio, against the
release binary: HTTPS echo servers with a private CA (MCP_CONDUCTOR_TLS_CA_FILE;
tests/fixtures/https_echo.py) show what arrived. The credential reaches its host; code finds it nowhere (environment with allow-env,
/proc with allow-read, the policy file, Request/Response objects, error text); the server's own
log never contains it; refusals name the rule; a redirect to another host arrives without it.
Run by .ci/clients (MCP_CONDUCTOR_BIN names the binary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

sys.path.insert(0, str(Path(__file__).parent))
from python_client import Report  # noqa: E402

SECRET = "py-egress-secret-51d3"

ECHO = Path(__file__).resolve().parent.parent / "fixtures" / "https_echo.py"


async def run(session: ClientSession, code: str) -> dict:
    result = await session.call_tool("run_deno_code", {"deno_code": code})
    return result.structured_content or json.loads(result.content[0].text)


async def main() -> int:
    report = Report("python-egress")
    home = Path(tempfile.mkdtemp(prefix="conductor-egress-")).resolve()
    echo = subprocess.Popen([sys.executable, str(ECHO), str(home), "2"], stdout=subprocess.PIPE, text=True)
    try:
        api, other = map(int, echo.stdout.readline().split())
        policy = home / "egress.yaml"
        policy.write_text(
            f"rules:\n  - name: api\n    host: 127.0.0.1\n    port: {api}\n    methods: [GET]\n    paths: [/v1/]\n"
            f"    headers:\n      Authorization: Bearer ${{PY_EGRESS_TOKEN}}\n"
            f"  - name: other\n    host: 127.0.0.1\n    port: {other}\n"
        )
        (home / "workspace").mkdir()
        env = {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MCP_CONDUCTOR_WORKSPACE": str(home / "workspace"),
            "MCP_CONDUCTOR_RUN_ARGS": "allow-net,allow-env,allow-read",
            "MCP_CONDUCTOR_EGRESS": str(policy),
            "MCP_CONDUCTOR_TLS_CA_FILE": str(home / "ca.pem"),
            "MCP_CONDUCTOR_LOG": "info",
            "PY_EGRESS_TOKEN": SECRET,
        }
        params = StdioServerParameters(command=os.environ["MCP_CONDUCTOR_BIN"], args=["stdio"], env=env)
        log_path = home / "server.log"
        with log_path.open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()

                r = await run(session, f"await (await fetch('https://127.0.0.1:{api}/v1/me')).json()")
                seen = (r.get("returnValue") or {}).get("headers", {})
                report.check("the credential reaches its host",
                             [] if seen.get("authorization") == f"Bearer {SECRET}" else [f"{r}"])

                hunt = f"""
                  const found = [];
                  const look = (where, text) => {{ if (String(text).includes('{SECRET}')) found.push(where) }};
                  look('Deno.env', JSON.stringify(Deno.env.toObject()));
                  look('process.env', JSON.stringify(process.env));
                  for (const f of ['/proc/self/environ', '/proc/' + Deno.pid + '/environ', '{policy}']) {{
                    try {{ look(f, Deno.readTextFileSync(f)) }} catch {{}}
                  }}
                  const res = await fetch('https://127.0.0.1:{api}/v1/x');
                  look('response', JSON.stringify([...res.headers]) + res.url);
                  await res.body?.cancel();
                  try {{ await fetch('https://127.0.0.1:{api}/v1/x', {{ method: 'DELETE' }}) }} catch (e) {{ look('error', e.stack) }}
                  found"""
                r = await run(session, hunt)
                report.check("code finds the credential nowhere", [] if r.get("returnValue") == [] else [f"{r}"])

                r = await run(session, f"await fetch('https://127.0.0.1:{api}/admin')")
                error = r.get("error", "")
                report.check("a refusal names the rule",
                             [] if "'api'" in error and "/v1/" in error and SECRET not in error else [error or f"{r}"])

                target = f"https://127.0.0.1:{other}/landed"
                r = await run(session, f"await (await fetch('https://127.0.0.1:{api}/v1/redirect?to={target}')).json()")
                landed = r.get("returnValue") or {}
                problems = [] if landed.get("path") == "/landed" and "authorization" not in landed.get("headers", {}) else [f"{r}"]
                report.check("a redirect to another host arrives without the credential", problems)
        text = log_path.read_text()
        problems = [] if "egress allowed" in text else ["no audit line in the log"]
        if SECRET in text:
            problems.append("the secret is in the server's log")
        report.check("the log audits each request and never holds the credential", problems)
    finally:
        echo.kill()
    return 0 if report.finish() else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main))
