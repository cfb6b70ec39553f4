// The official TypeScript client 2.x (@modelcontextprotocol/client), negotiating protocol
// 2026-07-28: its default is the legacy handshake, so versionNegotiation {mode: "auto"} opts into
// the server/discover probe (on stdio it probes a short-lived sibling process first). callTool
// validates structuredContent of non-error results against the listed outputSchema and throws
// ProtocolError when it does not conform.
// Run by .ci/clients (Node 24, type stripping): node client_v2.ts
import { Client, ProtocolError } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { rmSync } from "node:fs";

import { checkTools, errorText, Report, runCases, serverParams, type Json, type ToolResult } from "./common.ts";

const EXPECTED_PROTOCOL = "2026-07-28";

const report = new Report(process.env.CLIENT_LABEL ?? "client-v2");
const params = serverParams();
const transport = new StdioClientTransport({ command: params.command, args: ["stdio"], env: params.env, stderr: "inherit" });
const client = new Client({ name: "conductor-ci-client-v2", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
let code = 1;
try {
  await client.connect(transport);
  const server = client.getServerVersion();
  const version = client.getNegotiatedProtocolVersion();
  report.check(`connect: server mcp-conductor, protocol ${EXPECTED_PROTOCOL} (${client.getProtocolEra()} era)`,
    server?.name === "mcp-conductor" && version === EXPECTED_PROTOCOL ? [] : [`server ${JSON.stringify(server)}, protocol ${version}, era ${client.getProtocolEra()}`]);
  const { tools } = await client.listTools();
  checkTools(report, tools);
  const call = async (tool: string, args: Record<string, Json>): Promise<ToolResult> =>
    (await client.callTool({ name: tool, arguments: args })) as ToolResult;
  await runCases(report, call, (e) => (e instanceof ProtocolError ? e.code : undefined));
  code = report.finish();
} catch (e) {
  console.log(`FAIL [${report.client}] aborted: ${errorText(e)}`);
  report.finish();
  code = 1;
} finally {
  await client.close().catch(() => {});
  rmSync(params.home, { recursive: true, force: true });
}
process.exit(code);
