// The MCP Inspector's CLI (@modelcontextprotocol/inspector, v2): tools/list, then one tools/call
// of run_deno_code. Its tools/call validates structuredContent against the listed outputSchema
// (ajv) and exits non-zero with the validation error on stderr when it does not conform.
// Run by .ci/clients (Node 24, type stripping) with INSPECTOR_CLI = the package's launcher script.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";

import { checkTools, match, Report, serverParams, type ToolInfo } from "./common.ts";

const cli = process.env.INSPECTOR_CLI;
if (!cli) throw new Error("INSPECTOR_CLI is not set (run these scripts through .ci/clients)");

const report = new Report(process.env.CLIENT_LABEL ?? "inspector");
const params = serverParams();

/** One CLI run: the target first (its option --tool-arg is variadic), JSON output. */
function inspector(...args: string[]): { status: number | null; stdout: string; stderr: string; json?: { result?: unknown; error?: unknown } } {
  // The CLI refuses an empty -e value: leave those out (unset means the same to the server).
  const env = Object.entries(params.env).flatMap(([k, v]) => (v === "" ? [] : ["-e", `${k}=${v}`]));
  const argv = [cli as string, "--cli", params.command, "stdio", ...env, "--format", "json", "--connect-timeout", "30000", ...args];
  // The Inspector keeps state under ~/.mcp-inspector: give it the temp HOME too.
  const run = spawnSync(process.execPath, argv, {
    encoding: "utf8",
    env: { HOME: params.home, PATH: process.env.PATH ?? "/usr/bin:/bin" },
    timeout: 120_000,
  });
  let json;
  try {
    json = JSON.parse(run.stdout);
  } catch {
    json = undefined;
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, json };
}

function describe(r: ReturnType<typeof inspector>): string {
  return `exit ${r.status}, stdout ${r.stdout.trim().slice(0, 400) || "(empty)"}, stderr ${r.stderr.trim().slice(0, 600) || "(empty)"}`;
}

let code = 1;
try {
  const list = inspector("--method", "tools/list");
  const tools = (list.json?.result as { tools?: ToolInfo[] } | undefined)?.tools;
  if (list.status !== 0 || !tools) report.check("tools/list", [describe(list)]);
  else checkTools(report, tools);

  const call = inspector("--method", "tools/call", "--tool-name", "run_deno_code", "--tool-arg", "deno_code=1+1");
  const result = call.json?.result as { isError?: boolean; content?: Array<{ text?: string }>; structuredContent?: unknown } | undefined;
  const problems: string[] = [];
  if (call.status !== 0 || !result) problems.push(describe(call));
  else {
    if (result.isError) problems.push("isError set");
    const want = { status: "success", returnValue: 2, output: [] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.content?.[0]?.text ?? "");
    } catch {
      problems.push(`content[0].text is not JSON: ${JSON.stringify(result.content)}`);
    }
    if (parsed !== undefined) problems.push(...match(want, parsed, "text"));
    problems.push(...match(want, result.structuredContent, "structuredContent"));
  }
  report.check("tools/call run_deno_code deno_code=1+1 returns 2", problems);
  code = report.finish();
} finally {
  rmSync(params.home, { recursive: true, force: true });
}
process.exit(code);
