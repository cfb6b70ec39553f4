// mcp-conductor glue, embedded in the binary as the `mcp_conductor` extension.
//
// It installs one frozen, non-enumerable hook on globalThis under Symbol.for("mcp-conductor"):
//   harden() - called once per worker before its job: disables APIs the sandbox does not offer.
//   setup()  - defines the globals the server put in the op state: WORKSPACE_DIR, ROOT_DIR,
//              PLAYBOOKS_DIR, PERMISSIONS while the worker warms up, per-call globals later.
//   run(fn)  - called by the wrapped user module (see src/sandbox/code.rs): runs the user's
//              statements and resolves to the JSON text of their result.
// Builtins are captured here, at load time, so user code replacing JSON.stringify & co. cannot
// break or forge the serialization of its own result.
// Keep this file ASCII: it is embedded as a one-byte string.

import { op_conductor_globals, op_conductor_host, op_conductor_track_child } from "ext:core/ops";

const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectEntries = Object.entries;
const ObjectFreeze = Object.freeze;
const ObjectKeys = Object.keys;
const ObjectPrototypeToString = Object.prototype.toString;
const ArrayIsArray = Array.isArray;
const ArrayFrom = Array.from;
const ArrayPrototypeMap = Array.prototype.map;
const ArrayPrototypeEvery = Array.prototype.every;
const ArrayBufferIsView = ArrayBuffer.isView;
const NumberIsFinite = Number.isFinite;
const StringCtor = String;
const ReflectApply = Reflect.apply;
const MapPrototypeEntries = Map.prototype.entries;
const SetPrototypeValues = Set.prototype.values;
const ErrorCtor = Error;
const SymbolFor = Symbol.for;
const SymbolPrototypeToString = Symbol.prototype.toString;
const Uint8ArrayCtor = Uint8Array;
const TypeErrorCtor = TypeError;
const PromiseReject = Promise.reject.bind(Promise);

const MAX_DEPTH = 100;

function isInstance(value, tag) {
  return ReflectApply(ObjectPrototypeToString, value, []) === `[object ${tag}]`;
}

function functionLabel(fn) {
  let name = "";
  try {
    name = fn.name;
  } catch {
    // a hostile getter
  }
  return name ? `[Function: ${name}]` : "[Function (anonymous)]";
}

// Converts any value into something JSON can hold. Documented in README ("Return values").
function toJsonSafe(value, ancestors, depth) {
  switch (typeof value) {
    case "undefined":
      return null;
    case "boolean":
    case "string":
      return value;
    case "number":
      return NumberIsFinite(value) ? value : StringCtor(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return ReflectApply(SymbolPrototypeToString, value, []);
    case "function":
      return functionLabel(value);
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Too deep]";
  ancestors.push(value);
  try {
    return objectToJsonSafe(value, ancestors, depth + 1);
  } catch (err) {
    return `[Unserializable: ${describeError(err)}]`;
  } finally {
    ancestors.pop();
  }
}

function describeError(err) {
  try {
    return StringCtor(err && err.message !== undefined ? err.message : err);
  } catch {
    return "unknown error";
  }
}

function objectToJsonSafe(value, ancestors, depth) {
  const recurse = (v) => toJsonSafe(v, ancestors, depth);
  if (ArrayIsArray(value)) {
    const out = [];
    for (let i = 0; i < value.length; i++) out.push(recurse(value[i]));
    return out;
  }
  if (typeof value.toJSON === "function") {
    return recurse(value.toJSON());
  }
  if (value instanceof ErrorCtor || isInstance(value, "Error")) {
    const out = { name: StringCtor(value.name), message: StringCtor(value.message) };
    if (value.stack !== undefined) out.stack = StringCtor(value.stack);
    for (const key of ObjectKeys(value)) out[key] = recurse(value[key]);
    return out;
  }
  if (isInstance(value, "Map")) {
    const entries = ArrayFrom(ReflectApply(MapPrototypeEntries, value, []));
    if (ReflectApply(ArrayPrototypeEvery, entries, [([k]) => typeof k === "string"])) {
      const out = {};
      for (const [k, v] of entries) out[k] = recurse(v);
      return out;
    }
    return ReflectApply(ArrayPrototypeMap, entries, [([k, v]) => [recurse(k), recurse(v)]]);
  }
  if (isInstance(value, "Set")) {
    return ReflectApply(ArrayPrototypeMap, ArrayFrom(ReflectApply(SetPrototypeValues, value, [])), [recurse]);
  }
  if (ArrayBufferIsView(value)) {
    return ArrayFrom(value.buffer ? new Uint8ArrayCtor(value.buffer, value.byteOffset, value.byteLength) : []);
  }
  if (isInstance(value, "ArrayBuffer")) {
    return ArrayFrom(new Uint8ArrayCtor(value));
  }
  for (const tag of ["Promise", "WeakMap", "WeakSet", "WeakRef"]) {
    if (isInstance(value, tag)) return `[${tag}]`;
  }
  const out = {};
  for (const key of ObjectKeys(value)) {
    let v;
    try {
      v = value[key];
    } catch (err) {
      out[key] = `[Thrown: ${describeError(err)}]`;
      continue;
    }
    if (v === undefined) continue; // as JSON.stringify does
    out[key] = recurse(v);
  }
  return out;
}

function serialize(value) {
  try {
    return JSONStringify(toJsonSafe(value, [], 0));
  } catch (err) {
    return JSONStringify(`[Unserializable: ${describeError(err)}]`);
  }
}

function setup() {
  const globals = JSONParse(op_conductor_globals());
  for (const [name, value] of ObjectEntries(globals)) {
    ObjectDefineProperty(globalThis, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
}

// Run once per worker, before any job: wrappers installed twice would stack.
function harden() {
  disableProcessWideApis();
  defineGlobal("mcpFactory", mcpFactory);
  defineGlobal("importPlaybook", importPlaybook);
  // deno_runtime's default web-worker factory aborts; workers are not offered in the sandbox.
  class Worker {
    constructor() {
      throw new ErrorCtor("Worker is not available in the mcp-conductor sandbox");
    }
  }
  ObjectDefineProperty(globalThis, "Worker", {
    value: Worker,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

// APIs whose effect is process-wide (shared with every other execution and the server itself)
// even when a permission allows them: they throw instead.
function disableProcessWideApis() {
  // `Deno[Deno.internal]` carries Deno.core (raw ops, bypassing the public APIs' checks on
  // arguments); `deno run` exposes it, the sandbox does not.
  const internal = Deno.internal;
  delete Deno[internal];
  delete Deno.internal;
  const unavailable = (name, why) =>
    function () {
      throw new ErrorCtor(`${name} is not available in the mcp-conductor sandbox: ${why}`);
    };
  const signals = "signals belong to the server process";
  Deno.addSignalListener = unavailable("Deno.addSignalListener", signals);
  Deno.removeSignalListener = unavailable("Deno.removeSignalListener", signals);
  Deno.chdir = unavailable(
    "Deno.chdir",
    "the working directory is shared by all executions; use absolute paths or WORKSPACE_DIR",
  );
  patchOnFirstUse("umask", (umask) =>
    function (mask) {
      if (mask !== undefined) {
        throw new ErrorCtor("Deno.umask(mask) is not available in the mcp-conductor sandbox: the umask is process-wide");
      }
      return ReflectApply(umask, Deno, []);
    });
  const shared = "the environment is shared by all executions; pass `env` to Deno.Command instead";
  patchOnFirstUse("env", (env) => {
    env.set = unavailable("Deno.env.set", shared);
    env.delete = unavailable("Deno.env.delete", shared);
    return env;
  });
  // Children started with spawn() (even unref'd ones) are killed when the execution ends.
  patchOnFirstUse("Command", (Command) => {
    const spawn = Command.prototype.spawn;
    Command.prototype.spawn = function () {
      const child = ReflectApply(spawn, this, []);
      op_conductor_track_child(child.pid);
      return child;
    };
    return Command;
  });
}

// Replaces `Deno[name]` by `patch(original)`. Several Deno APIs are lazy getters whose first use
// loads their extension's code (Deno.Command: ~15 ms on QuickJS), so for those the patch runs on
// first use, never for code that does not touch them.
function patchOnFirstUse(name, patch) {
  const desc = ObjectGetOwnPropertyDescriptor(Deno, name);
  if (!desc) return;
  if (!desc.get) {
    ObjectDefineProperty(Deno, name, { ...desc, value: patch(desc.value) });
    return;
  }
  let patched;
  ObjectDefineProperty(Deno, name, {
    get() {
      return patched ??= patch(ReflectApply(desc.get, Deno, []));
    },
    enumerable: desc.enumerable,
    configurable: true,
  });
}

function defineGlobal(name, value) {
  ObjectDefineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
}

// ---- mcpFactory: tools of upstream MCP servers, through the server's in-process proxy ----
// Every request is one op into the server (no network, no token); see src/proxy/.

async function hostRequest(method, params) {
  const reply = JSONParse(await op_conductor_host(method, JSONStringify(params)));
  if (reply.error !== undefined) {
    const err = new ErrorCtor(reply.error);
    if (reply.result !== undefined) err.result = reply.result;
    throw err;
  }
  return reply.value;
}

function checkName(what, value) {
  if (typeof value !== "string" || value === "") {
    throw new TypeErrorCtor(`${what} must be a non-empty string, got ${typeof value === "string" ? '""' : typeof value}`);
  }
}

function checkArgs(tool, args) {
  if (args === undefined || args === null) return {};
  if (typeof args !== "object" || ArrayIsArray(args)) {
    throw new TypeErrorCtor(`arguments of ${tool} must be an object, got ${ArrayIsArray(args) ? "an array" : typeof args}`);
  }
  return args;
}

function upstream(server, tools) {
  const call = (method, name, args) => {
    checkName("tool name", name);
    return hostRequest(method, { server, tool: name, args: checkArgs(name, args) });
  };
  return ObjectFreeze({
    name: server,
    // Tool names as of load(); listTools() asks again (cached until the server says it changed).
    tools: ObjectFreeze(tools),
    listTools: () => hostRequest("listTools", { server }),
    // The tool's result: structuredContent, else its JSON text parsed, else its text; throws
    // with the tool's message when it reports an error (the raw result is `err.result`).
    callTool: (name, args) => call("callTool", name, args),
    // The tool's CallToolResult as the server sent it, errors included.
    callToolRaw: (name, args) => call("callToolRaw", name, args),
  });
}

const mcpFactory = ObjectFreeze({
  listServers: () => hostRequest("listServers", {}),
  async load(server) {
    checkName("server name", server);
    const { tools } = await hostRequest("load", { server });
    return upstream(server, tools);
  },
});

// ---- importPlaybook: a playbook's module, read by the server (src/playbooks/store.rs) ----

const PLAYBOOK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const RegExpPrototypeTest = RegExp.prototype.test;

function importPlaybook(name) {
  if (typeof name !== "string" || !ReflectApply(RegExpPrototypeTest, PLAYBOOK_NAME, [name])) {
    const shown = typeof name === "string" ? JSONStringify(name) : typeof name;
    return PromiseReject(new TypeErrorCtor(
      `importPlaybook: invalid playbook folder name ${shown}: use 1 to 64 letters, digits, '_' or '-'`,
    ));
  }
  return import(`playbook://${name}/playbook.ts`);
}

async function run(fn) {
  return serialize(await fn());
}

ObjectDefineProperty(globalThis, SymbolFor("mcp-conductor"), {
  value: ObjectFreeze({ harden, setup, run }),
  writable: false,
  enumerable: false,
  configurable: false,
});
