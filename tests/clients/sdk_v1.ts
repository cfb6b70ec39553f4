// The official TypeScript SDK 1.x (@modelcontextprotocol/sdk): Client + StdioClientTransport,
// protocol 2025-11-25. Client.callTool validates structuredContent against the outputSchema from
// the last listTools (error results too) and throws McpError when it does not conform.
// With --http: the same over StreamableHTTPClientTransport against `mcp-conductor http --port 0`
// with a bearer token (requestInit.headers.Authorization); first a client without the header must
// fail to connect with StreamableHTTPError 401.
// Run by .ci/clients (Node 24, type stripping): node sdk_v1.ts [--http]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { rmSync } from "node:fs";

import {
  checkHttpBasics, checkRefusedWithoutToken, exerciseConnected, Report, reportAbort, serverParams, startHttpServer,
  transportArg, type HttpServer,
} from "./common.ts";

const EXPECTED_PROTOCOL = "2025-11-25";

/** Records the protocol version the client adopts (it calls this after initialize). */
class RecordingTransport extends StdioClientTransport {
  negotiated?: string;
  setProtocolVersion(version: string): void {
    this.negotiated = version;
  }
}

const mode = transportArg();
const report = new Report(process.env.CLIENT_LABEL ?? (mode === "http" ? "sdk-v1-http" : "sdk-v1"));
const params = serverParams();
const client = new Client({ name: "conductor-ci-sdk-v1", version: "1.0.0" });
let server: HttpServer | undefined;
let code = 1;
try {
  let negotiated: () => string | undefined;
  if (mode === "http") {
    server = await startHttpServer(params);
    await checkHttpBasics(report, server);
    // Without the Authorization header: initialize must be refused with 401.
    await checkRefusedWithoutToken(report, new Client({ name: "conductor-ci-sdk-v1-anonymous", version: "1.0.0" }),
      new StreamableHTTPClientTransport(new URL(server.url)), (e) => e instanceof StreamableHTTPError && e.code === 401);
    const transport = new StreamableHTTPClientTransport(new URL(server.url), {
      requestInit: { headers: { Authorization: `Bearer ${server.token}` } },
    });
    await client.connect(transport);
    negotiated = () => transport.protocolVersion;
  } else {
    const transport = new RecordingTransport({ command: params.command, args: ["stdio"], env: params.env, stderr: "inherit" });
    await client.connect(transport);
    negotiated = () => transport.negotiated;
  }
  const info = client.getServerVersion();
  report.check(`initialize: server mcp-conductor, protocol ${EXPECTED_PROTOCOL}`,
    info?.name === "mcp-conductor" && negotiated() === EXPECTED_PROTOCOL ? [] : [`server ${JSON.stringify(info)}, protocol ${negotiated()}`]);
  // Over HTTP the SIGTERM comes while the session (and its GET stream) is still open.
  await exerciseConnected(report, client, (e) => (e instanceof McpError ? e.code : undefined), server);
  code = report.finish();
} catch (e) {
  code = reportAbort(report, e);
} finally {
  await client.close().catch(() => {});
  if (server) await server.stop().catch(() => {});
  rmSync(params.home, { recursive: true, force: true });
}
process.exit(code);
