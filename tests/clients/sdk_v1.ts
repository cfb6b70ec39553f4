// The official TypeScript SDK 1.x (@modelcontextprotocol/sdk): Client + StdioClientTransport,
// protocol 2025-11-25. Client.callTool validates structuredContent against the outputSchema from
// the last listTools (error results too) and throws McpError when it does not conform.
// Run by .ci/clients (Node 24, type stripping): node sdk_v1.ts
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { rmSync } from "node:fs";

import { checkTools, errorText, Report, runCases, serverParams, type Json, type ToolResult } from "./common.ts";

const EXPECTED_PROTOCOL = "2025-11-25";

/** Records the protocol version the client adopts (it calls this after initialize). */
class RecordingTransport extends StdioClientTransport {
  negotiated?: string;
  setProtocolVersion(version: string): void {
    this.negotiated = version;
  }
}

const report = new Report(process.env.CLIENT_LABEL ?? "sdk-v1");
const params = serverParams();
const transport = new RecordingTransport({ command: params.command, args: ["stdio"], env: params.env, stderr: "inherit" });
const client = new Client({ name: "conductor-ci-sdk-v1", version: "1.0.0" });
let code = 1;
try {
  await client.connect(transport);
  const server = client.getServerVersion();
  report.check(`initialize: server mcp-conductor, protocol ${EXPECTED_PROTOCOL}`,
    server?.name === "mcp-conductor" && transport.negotiated === EXPECTED_PROTOCOL ? [] : [`server ${JSON.stringify(server)}, protocol ${transport.negotiated}`]);
  const { tools } = await client.listTools();
  checkTools(report, tools);
  const call = async (tool: string, args: Record<string, Json>): Promise<ToolResult> =>
    (await client.callTool({ name: tool, arguments: args })) as ToolResult;
  await runCases(report, call, (e) => (e instanceof McpError ? e.code : undefined));
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
