// Shared by the TypeScript client scripts: the server's environment, the checks of tools/list,
// and the runner of cases.json. Each script supplies `call`, a tools/call through its client's
// ordinary callTool (which validates structuredContent against the tool's outputSchema).
// Run by Node >= 23.6 (type stripping): keep to erasable TypeScript syntax.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The parts of a CallToolResult the checks read. */
export interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent?: unknown;
}

export interface ToolInfo {
  name: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

export const TOOLS = ["run_deno_code", "list_playbooks", "get_playbook", "create_playbook", "list_mcp_servers", "get_tools"];

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run these scripts through .ci/clients)`);
  return value;
}

/** The conductor binary, and the environment for a fresh temp HOME and workspace. */
export function serverParams(): { command: string; env: Record<string, string>; home: string } {
  const bin = required("MCP_CONDUCTOR_BIN");
  const upstream = required("MCP_CONDUCTOR_UPSTREAM_BIN");
  const home = realpathSync(mkdtempSync(join(tmpdir(), "conductor-client-")));
  const workspace = join(home, "workspace");
  mkdirSync(workspace);
  const config = join(home, "mcp-config.json");
  writeFileSync(config, JSON.stringify({ mcpServers: { up: { command: upstream } } }));
  const env: Record<string, string> = {
    HOME: home,
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    MCP_CONDUCTOR_WORKSPACE: workspace,
    MCP_CONDUCTOR_MCP_CONFIG: config,
    MCP_CONDUCTOR_MAX_RETURN_BYTES: "1000",
    MCP_CONDUCTOR_MAX_OUTPUT_BYTES: "2000",
    MCP_CONDUCTOR_MAX_MEMORY_MB: "64",
    MCP_CONDUCTOR_LOG: "warn",
  };
  return { command: bin, env, home };
}

/** The transport a script runs over: stdio (the default), or streamable HTTP with `--http`. */
export function transportArg(): "stdio" | "http" {
  const args = process.argv.slice(2);
  if (args.length === 0) return "stdio";
  if (args.length === 1 && args[0] === "--http") return "http";
  throw new Error(`usage: ${process.argv[1]} [--http]`);
}

/** A conductor serving streamable HTTP (`http --port 0`) with a bearer token, for one client run. */
export interface HttpServer {
  url: string;
  token: string;
  /** SIGTERMs the server and waits up to 10 s for it to exit (then SIGKILLs it). */
  stop(): Promise<{ code: number | null; signal: string | null; ms: number; timedOut: boolean; stdout: string }>;
}

const LISTENING = /listening on (http:\/\/\S+)/;

/**
 * Starts `<bin> http --port 0` with the environment of `params`, a random token in a file in the
 * temp HOME (MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE), and waits for the `listening on <url>` line on
 * its stderr. The server's stderr is passed through to ours; its stdout is collected (it should
 * stay empty).
 */
export function startHttpServer(params: { command: string; env: Record<string, string>; home: string }): Promise<HttpServer> {
  const token = randomBytes(24).toString("hex");
  const tokenFile = join(params.home, "http-token");
  writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  const child = spawn(params.command, ["http", "--port", "0"], {
    env: { ...params.env, MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE: tokenFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Should this script die before stop() (an abort, a pipe closed under it), the server goes too.
  const reap = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", reap);
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })));
  const stop: HttpServer["stop"] = async () => {
    const t0 = Date.now();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 10_000)));
    const first = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    const timedOut = first === "timeout";
    if (timedOut) child.kill("SIGKILL");
    const { code, signal } = await exited;
    return { code, signal, ms: Date.now() - t0, timedOut, stdout };
  };
  return new Promise((resolve, reject) => {
    let found = false;
    const lines = createInterface({ input: child.stderr });
    const timer = setTimeout(() => {
      if (found) return;
      child.kill("SIGKILL");
      reject(new Error("no 'listening on' line on the HTTP server's stderr within 30 s"));
    }, 30_000);
    lines.on("line", (line) => {
      process.stderr.write(`[server] ${line}\n`);
      const m = LISTENING.exec(line);
      if (m && !found) {
        found = true;
        clearTimeout(timer);
        resolve({ url: m[1], token, stop });
      }
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    void exited.then(({ code, signal }) => {
      if (found) return;
      clearTimeout(timer);
      reject(new Error(`the HTTP server exited (code ${code}, signal ${signal}) before its 'listening on' line`));
    });
  });
}

/** The code of the call in flight when the drain starts, and what it returns. */
const DRAIN_CODE = "await new Promise((r) => setTimeout(r, 2000)); 'finished during the drain'";
const DRAIN_VALUE = "finished during the drain";

/**
 * Checks of the HTTP server's shutdown, SIGTERMed while a call of this client runs: the call still
 * gets its result (the drain keeps the session and its streams served until the execution ends;
 * the client may open new connections meanwhile), then the server exits 0 within 10 s of SIGTERM
 * with nothing on stdout.
 */
export async function stopHttpServer(report: Report, server: HttpServer, call?: (tool: string, args: Record<string, Json>) => Promise<ToolResult>): Promise<void> {
  let inFlight: Promise<ToolResult | Error> | undefined;
  if (call) {
    inFlight = call("run_deno_code", { deno_code: DRAIN_CODE }).catch((e) => (e instanceof Error ? e : new Error(String(e))));
    await new Promise((r) => setTimeout(r, 500));
  }
  const stopping = server.stop();
  if (inFlight) {
    const result = await inFlight;
    const value = result instanceof Error ? undefined : (result.structuredContent as { returnValue?: unknown } | undefined)?.returnValue;
    report.check("http: a call running when SIGTERM arrives still gets its result (drain)",
      value === DRAIN_VALUE ? [] : [result instanceof Error ? errorText(result) : `result ${JSON.stringify(result).slice(0, 300)}`]);
  }
  const r = await stopping;
  console.log(`     [${report.client}] http: the server's exit came ${r.ms} ms after SIGTERM`);
  report.check("http: the server exits 0 within 10 s of SIGTERM",
    !r.timedOut && r.code === 0 ? [] : [r.timedOut ? "still running after 10 s (SIGKILLed)" : `exit code ${r.code}, signal ${r.signal}, after ${r.ms} ms`]);
  report.check("http: the server's stdout stays empty", r.stdout === "" ? [] : [`stdout ${JSON.stringify(r.stdout.slice(0, 300))}`]);
}

/** Plain-fetch checks of the HTTP surface: /health without a token, and a wrong token on /mcp. */
export async function checkHttpBasics(report: Report, server: HttpServer): Promise<void> {
  const health = new URL("/health", server.url);
  try {
    const r = await fetch(health);
    const body = await r.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    report.check("http: GET /health (no Authorization) returns 200 {\"status\":\"ok\"}",
      r.status === 200 && match({ status: "ok" }, parsed).length === 0 ? [] : [`status ${r.status}, body ${body.slice(0, 200)}`]);
  } catch (e) {
    report.check("http: GET /health (no Authorization) returns 200 {\"status\":\"ok\"}", [errorText(e)]);
  }
  const initialize = {
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "conductor-ci-raw", version: "1.0.0" } },
  };
  try {
    const r = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${server.token}x` },
      body: JSON.stringify(initialize),
    });
    await r.text();
    report.check("http: POST /mcp with a wrong bearer token is refused with 401", r.status === 401 ? [] : [`status ${r.status}`]);
  } catch (e) {
    report.check("http: POST /mcp with a wrong bearer token is refused with 401", [errorText(e)]);
  }
}

/** Collects check results; prints one line per check. */
export class Report {
  readonly client: string;
  passed = 0;
  failures: string[] = [];
  constructor(client: string) {
    this.client = client;
  }

  check(name: string, problems: string[]): void {
    if (problems.length === 0) {
      this.passed++;
      console.log(`ok   [${this.client}] ${name}`);
    } else {
      this.failures.push(`${name}: ${problems.join("; ")}`);
      console.log(`FAIL [${this.client}] ${name}: ${problems.join("; ")}`);
    }
  }

  /** Prints the summary line and returns the exit code. */
  finish(): number {
    if (this.failures.length > 0) {
      console.log(`[${this.client}] failures:`);
      for (const f of this.failures) console.log(`  - ${f}`);
    }
    console.log(`${this.client}: ${this.passed} passed, ${this.failures.length} failed`);
    return this.failures.length === 0 ? 0 : 1;
  }
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** tools/list: the six tools, each with an inputSchema; run_deno_code with an outputSchema. */
export function checkTools(report: Report, tools: ToolInfo[]): void {
  const names = tools.map((t) => t.name).sort();
  report.check("tools/list: the six tools", JSON.stringify(names) === JSON.stringify([...TOOLS].sort()) ? [] : [`got ${JSON.stringify(names)}`]);
  for (const name of TOOLS) {
    const tool = tools.find((t) => t.name === name);
    const problems: string[] = [];
    const input = tool?.inputSchema as { type?: string } | undefined;
    if (!tool) problems.push("missing");
    else if (!input || input.type !== "object") problems.push(`inputSchema ${JSON.stringify(input)}`);
    if (name === "run_deno_code") {
      const output = tool?.outputSchema as { type?: string; properties?: object } | undefined;
      if (!output || output.type !== "object" || !output.properties) problems.push(`outputSchema ${JSON.stringify(output)}`);
    }
    report.check(`tools/list: ${name} has ${name === "run_deno_code" ? "inputSchema and outputSchema" : "an inputSchema"}`, problems);
  }
}

interface Case {
  name: string;
  tool: string;
  args: { [key: string]: Json };
  expect: {
    rpcError?: { code: number; contains?: string };
    anyError?: { contains?: string };
    isError?: boolean;
    result?: Json;
    structured?: Json;
    text?: string;
  };
  save?: { [name: string]: Array<string | number> };
}

export function loadCases(): Case[] {
  const file = process.env.CLIENT_CASES ?? new URL("./cases.json", import.meta.url).pathname;
  return (JSON.parse(readFileSync(file, "utf8")) as { cases: Case[] }).cases;
}

function substitute(value: Json, vars: Map<string, Json>): Json {
  if (typeof value === "string") {
    const whole = /^\{\{(\w+)\}\}$/.exec(value);
    if (whole && vars.has(whole[1])) return vars.get(whole[1]) as Json;
    return value.replace(/\{\{(\w+)\}\}/g, (m, k: string) => (vars.has(k) ? String(vars.get(k)) : m));
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  return value;
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Mismatches of `actual` against the pattern (see cases.json), each naming its path. */
export function match(pattern: Json, actual: unknown, path = "$"): string[] {
  const show = (v: unknown) => { const s = JSON.stringify(v); return s === undefined ? "undefined" : s.length > 200 ? s.slice(0, 200) + "…" : s; };
  if (pattern && typeof pattern === "object" && !Array.isArray(pattern)) {
    if ("$type" in pattern) return typeOf(actual) === pattern.$type ? [] : [`${path}: expected a ${pattern.$type}, got ${show(actual)}`];
    if ("$gt" in pattern) return typeof actual === "number" && actual > (pattern.$gt as number) ? [] : [`${path}: expected > ${pattern.$gt}, got ${show(actual)}`];
    if ("$contains" in pattern) return typeof actual === "string" && actual.includes(pattern.$contains as string) ? [] : [`${path}: expected a string containing ${show(pattern.$contains)}, got ${show(actual)}`];
    if ("$some" in pattern) {
      if (!Array.isArray(actual)) return [`${path}: expected an array, got ${show(actual)}`];
      return actual.some((a) => match(pattern.$some as Json, a).length === 0) ? [] : [`${path}: no element matches ${show(pattern.$some)} in ${show(actual)}`];
    }
    if (typeOf(actual) !== "object") return [`${path}: expected an object, got ${show(actual)}`];
    const obj = actual as Record<string, unknown>;
    const problems: string[] = [];
    for (const [key, p] of Object.entries(pattern)) {
      const absent = p && typeof p === "object" && !Array.isArray(p) && (p as Record<string, Json>).$absent === true;
      if (absent) {
        if (key in obj) problems.push(`${path}.${key}: expected absent, got ${show(obj[key])}`);
      } else if (!(key in obj)) {
        problems.push(`${path}.${key}: missing (expected ${show(p)})`);
      } else {
        problems.push(...match(p, obj[key], `${path}.${key}`));
      }
    }
    return problems;
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual) || actual.length !== pattern.length) return [`${path}: expected ${show(pattern)}, got ${show(actual)}`];
    return pattern.flatMap((p, i) => match(p, actual[i], `${path}[${i}]`));
  }
  return JSON.stringify(pattern) === JSON.stringify(actual) ? [] : [`${path}: expected ${show(pattern)}, got ${show(actual)}`];
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

/** The JSON-RPC error code a client's error carries, if it is one. */
export type CodeOf = (e: unknown) => number | undefined;

/** Runs every case of cases.json through `call`, reporting one check per case. */
export async function runCases(report: Report, call: (tool: string, args: Record<string, Json>) => Promise<ToolResult>, codeOf: CodeOf): Promise<void> {
  const vars = new Map<string, Json>();
  for (const c of loadCases()) {
    const args = substitute(c.args, vars) as Record<string, Json>;
    const expect = substitute(c.expect as Json, vars) as Case["expect"];
    const problems: string[] = [];
    let result: ToolResult | undefined;
    let error: unknown;
    try {
      result = await call(c.tool, args);
    } catch (e) {
      error = e;
    }
    if (expect.rpcError) {
      if (error === undefined) problems.push(`expected JSON-RPC error ${expect.rpcError.code}, got a result: ${JSON.stringify(result).slice(0, 300)}`);
      else {
        const code = codeOf(error);
        if (code !== expect.rpcError.code) problems.push(`expected JSON-RPC error ${expect.rpcError.code}, got ${code}: ${errorText(error)}`);
        if (expect.rpcError.contains && !errorText(error).includes(expect.rpcError.contains)) problems.push(`error lacks ${JSON.stringify(expect.rpcError.contains)}: ${errorText(error)}`);
      }
      report.check(c.name, problems);
      continue;
    }
    if (expect.anyError) {
      const want = expect.anyError.contains;
      if (error !== undefined) {
        if (codeOf(error) === undefined) problems.push(`not a JSON-RPC error: ${errorText(error)}`);
        if (want && !errorText(error).includes(want)) problems.push(`error lacks ${JSON.stringify(want)}: ${errorText(error)}`);
      } else if (result?.isError !== true) {
        problems.push(`expected an error, got ${JSON.stringify(result).slice(0, 300)}`);
      } else if (want && !(result.content[0]?.text ?? "").includes(want)) {
        problems.push(`error text lacks ${JSON.stringify(want)}: ${result.content[0]?.text}`);
      }
      report.check(c.name, problems);
      continue;
    }
    if (error !== undefined || !result) {
      report.check(c.name, [`call failed: ${errorText(error)}`]);
      continue;
    }
    if ((result.isError === true) !== (expect.isError === true)) problems.push(`isError ${result.isError}, expected ${expect.isError === true}`);
    const text = result.content[0]?.type === "text" ? (result.content[0].text ?? "") : undefined;
    if (text === undefined) problems.push(`content[0] is not text: ${JSON.stringify(result.content).slice(0, 200)}`);
    if (expect.text !== undefined && !(text ?? "").includes(expect.text)) problems.push(`text lacks ${JSON.stringify(expect.text)}: ${(text ?? "").slice(0, 300)}`);
    if (expect.result !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text ?? "");
      } catch {
        problems.push(`content[0].text is not JSON: ${(text ?? "").slice(0, 200)}`);
      }
      if (parsed !== undefined) problems.push(...match(expect.result, parsed, "text"));
      problems.push(...match(expect.result, result.structuredContent, "structuredContent"));
      if (c.tool === "run_deno_code" && parsed !== undefined && result.structuredContent && typeof result.structuredContent === "object") {
        // structuredContent is the text item's object plus the raw streams.
        const { stdout: _o, stderr: _e, ...rest } = result.structuredContent as Record<string, unknown>;
        if (JSON.stringify(sorted(rest)) !== JSON.stringify(sorted(parsed))) problems.push(`structuredContent (without stdout/stderr) differs from the text item: ${JSON.stringify(rest).slice(0, 300)} vs ${(text ?? "").slice(0, 300)}`);
      }
    }
    if (expect.structured !== undefined) problems.push(...match(expect.structured, result.structuredContent, "structuredContent"));
    for (const [name, path] of Object.entries(c.save ?? {})) {
      let v: unknown = result.structuredContent;
      for (const key of path) v = v == null ? undefined : (v as Record<string | number, unknown>)[key];
      if (v === undefined) problems.push(`nothing at ${path.join(".")} to save as ${name}`);
      else vars.set(name, v as Json);
    }
    report.check(c.name, problems);
  }
}

/** The part of either TypeScript client the scripts drive (SDK 1.x and client 2.x agree on it). */
export interface DrivenClient {
  connect(transport: unknown): Promise<void>;
  listTools(): Promise<{ tools: ToolInfo[] }>;
  callTool(request: { name: string; arguments: Record<string, Json> }): Promise<unknown>;
  close(): Promise<void>;
}

/** A client connecting without the token must be refused with 401 (`is401` reads its error). */
export async function checkRefusedWithoutToken(report: Report, anonymous: DrivenClient, transport: unknown, is401: (e: unknown) => boolean): Promise<void> {
  const name = "http: connecting without Authorization fails with 401";
  try {
    await anonymous.connect(transport);
    report.check(name, ["connected"]);
  } catch (e) {
    report.check(name, is401(e) ? [] : [errorText(e)]);
  } finally {
    await anonymous.close().catch(() => {});
  }
}

/** Once connected: the tools, every case, then (over HTTP) SIGTERM to the server while the
 * client is still connected, as when a server is stopped under its clients. */
export async function exerciseConnected(report: Report, client: DrivenClient, codeOf: CodeOf, server: HttpServer | undefined): Promise<void> {
  const { tools } = await client.listTools();
  checkTools(report, tools);
  const call = async (tool: string, args: Record<string, Json>): Promise<ToolResult> =>
    (await client.callTool({ name: tool, arguments: args })) as ToolResult;
  await runCases(report, call, codeOf);
  if (server) await stopHttpServer(report, server, call);
}

/** A run that ended early: one failure, the report printed; the exit code. */
export function reportAbort(report: Report, e: unknown): number {
  console.log(`FAIL [${report.client}] aborted: ${errorText(e)}`);
  report.failures.push(`aborted: ${errorText(e)}`);
  report.finish();
  return 1;
}
