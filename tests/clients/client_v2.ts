// The official TypeScript client 2.x (@modelcontextprotocol/client), negotiating protocol
// 2026-07-28: its default is the legacy handshake, so versionNegotiation {mode: "auto"} opts into
// the server/discover probe (on stdio it probes a short-lived sibling process first). callTool
// validates structuredContent of non-error results against the listed outputSchema and throws
// ProtocolError when it does not conform.
// With --http: the same over its StreamableHTTPClientTransport against `mcp-conductor http
// --port 0` with a bearer token (the documented simple-token form, authProvider {token}; the probe
// runs in place over HTTP); first a client without a token must fail to connect with
// SdkHttpError status 401.
// Run by .ci/clients (Node 24, type stripping): node client_v2.ts [--http]
import { Client, ProtocolError, SdkHttpError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { rmSync } from "node:fs";

import {
  checkRefusedWithoutToken, exerciseConnected, Report, reportAbort, serverParams, startHttpServer,
  transportArg, type HttpServer,
} from "./common.ts";

const EXPECTED_PROTOCOL = "2026-07-28";

const mode = transportArg();
const report = new Report(process.env.CLIENT_LABEL ?? (mode === "http" ? "client-v2-http" : "client-v2"));
const params = serverParams();
const newClient = (name: string) => new Client({ name, version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
const client = newClient("conductor-ci-client-v2");
let server: HttpServer | undefined;
let code = 1;
try {
  if (mode === "http") {
    server = await startHttpServer(params);
    // Without a token: the server/discover probe must be answered 401.
    await checkRefusedWithoutToken(report, newClient("conductor-ci-client-v2-anonymous"),
      new StreamableHTTPClientTransport(new URL(server.url)), (e) => e instanceof SdkHttpError && e.status === 401);
    const token = server.token;
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { authProvider: { token: async () => token } }));
  } else {
    await client.connect(new StdioClientTransport({ command: params.command, args: ["stdio"], env: params.env, stderr: "inherit" }));
  }
  const info = client.getServerVersion();
  const version = client.getNegotiatedProtocolVersion();
  report.check(`connect: server mcp-conductor, protocol ${EXPECTED_PROTOCOL} (${client.getProtocolEra()} era)`,
    info?.name === "mcp-conductor" && version === EXPECTED_PROTOCOL ? [] : [`server ${JSON.stringify(info)}, protocol ${version}, era ${client.getProtocolEra()}`]);
  await exerciseConnected(report, client, (e) => (e instanceof ProtocolError ? e.code : undefined), server);
  code = report.finish();
} catch (e) {
  code = reportAbort(report, e);
} finally {
  await client.close().catch(() => {});
  if (server) await server.stop().catch(() => {});
  rmSync(params.home, { recursive: true, force: true });
}
process.exit(code);
