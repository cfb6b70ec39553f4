// mcp-conductor glue, embedded in the binary as the `mcp_conductor` extension.
//
// It installs one frozen, non-enumerable hook on globalThis under Symbol.for("mcp-conductor"):
//   harden() - called once per worker before its job: disables APIs the sandbox does not offer.
//   setup()  - defines the globals the server put in the op state: WORKSPACE_DIR, ROOT_DIR,
//              PLAYBOOKS_DIR, PERMISSIONS, EGRESS while the worker warms up, per-call globals later.
//   run(fn)  - called by the wrapped user module (see src/sandbox/code.rs): runs the user's
//              statements and resolves to the JSON text of their result.
// Builtins are captured here, at load time, so user code replacing JSON.stringify & co. cannot
// break or forge the serialization of its own result.
// Keep this file ASCII: it is embedded as a one-byte string.

import {
  op_conductor_globals,
  op_conductor_host,
  op_conductor_may_adopt_fd,
  op_conductor_attach,
  op_conductor_progress,
  op_conductor_state,
  op_conductor_track_child,
  op_conductor_memory_cap,
  op_conductor_check_cost,
  op_load_ext_script,
  op_is_array_buffer,
  op_is_date,
  op_is_map,
  op_is_set,
  PipeWrap,
  TCPWrap,
} from "ext:core/ops";

// Names shared with the server: src/sandbox/contract.rs (its tests compare them with this file).
const HOOK_KEY = "mcp-conductor";
const PLAYBOOK_SCHEME = "playbook";

const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectEntries = Object.entries;
const ObjectFreeze = Object.freeze;
const ObjectKeys = Object.keys;
const MathCeil = Math.ceil;
const ObjectAssign = Object.assign;
const ObjectPrototype = Object.prototype;
const ObjectPrototypeToString = Object.prototype.toString;
const ArrayIsArray = Array.isArray;
const ArrayBufferIsView = ArrayBuffer.isView;
const NumberIsFinite = Number.isFinite;
const StringCtor = String;
const ReflectApply = Reflect.apply;
const ReflectConstruct = Reflect.construct;
const ProxyCtor = Proxy;
const NumberCtor = Number;
const RangeErrorCtor = RangeError;
const MapPrototypeForEach = Map.prototype.forEach;
const SetCtor = Set;
const SetPrototypeAdd = Set.prototype.add;
const SetPrototypeDelete = Set.prototype.delete;
const SetPrototypeHas = Set.prototype.has;
const SetPrototypeForEach = Set.prototype.forEach;
const DatePrototypeGetTime = Date.prototype.getTime;
const DatePrototypeToISOString = Date.prototype.toISOString;
const ErrorCtor = Error;
const SymbolFor = Symbol.for;
const SymbolPrototypeToString = Symbol.prototype.toString;
const Uint8ArrayCtor = Uint8Array;
const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
const getter = (proto, name) => ObjectGetOwnPropertyDescriptor(proto, name).get;
const TypedArrayBuffer = getter(TypedArrayPrototype, "buffer");
const TypedArrayByteOffset = getter(TypedArrayPrototype, "byteOffset");
const TypedArrayByteLength = getter(TypedArrayPrototype, "byteLength");
const TypedArrayToStringTag = getter(TypedArrayPrototype, Symbol.toStringTag);
const DataViewBuffer = getter(DataView.prototype, "buffer");
const DataViewByteOffset = getter(DataView.prototype, "byteOffset");
const DataViewByteLength = getter(DataView.prototype, "byteLength");
const TypeErrorCtor = TypeError;

// The bytes a typed array or DataView looks at (captured getters: code cannot fake them).
function viewBytes(view) {
  const typed = ReflectApply(TypedArrayToStringTag, view, []) !== undefined;
  return typed
    ? new Uint8ArrayCtor(
      ReflectApply(TypedArrayBuffer, view, []),
      ReflectApply(TypedArrayByteOffset, view, []),
      ReflectApply(TypedArrayByteLength, view, []),
    )
    : new Uint8ArrayCtor(
      ReflectApply(DataViewBuffer, view, []),
      ReflectApply(DataViewByteOffset, view, []),
      ReflectApply(DataViewByteLength, view, []),
    );
}

const PromiseReject = Promise.reject.bind(Promise);
const PromisePrototypeThen = Promise.prototype.then;

// A `toJSON` found on one of these is ignored (user code may have planted it there); a Date
// always becomes its ISO string.
const INTRINSIC_PROTOTYPES = new SetCtor();
for (const ctor of [Object, Array, Function, Map, Set, Error, Promise, RegExp, Number, String, Boolean, Symbol, Date, BigInt]) {
  ReflectApply(SetPrototypeAdd, INTRINSIC_PROTOTYPES, [ctor.prototype]);
}

const MAX_DEPTH = 100;
const OPAQUE_TAGS = ObjectFreeze(["Promise", "WeakMap", "WeakSet", "WeakRef"]);

// ---- The result serializer ----
// User code may replace any builtin (Array.prototype.push, iterators, Promise.prototype.then,
// JSON, setters on Object.prototype...). The serializer uses only functions captured above
// (called through ReflectApply), indexed loops instead of iterators, `+` instead of template
// literals (an engine may build those with String.prototype.concat), and writes the JSON text itself:
// no intermediate object is built, so no setter or inherited toJSON can intercept.

function isInstance(value, tag) {
  return ReflectApply(ObjectPrototypeToString, value, []) === "[object " + tag + "]";
}

function functionLabel(fn) {
  let name = "";
  try {
    name = fn.name;
  } catch {
    // a hostile getter
  }
  return typeof name === "string" && name !== "" ? "[Function: " + name + "]" : "[Function (anonymous)]";
}

function describeError(err) {
  try {
    return StringCtor(err !== null && typeof err === "object" && err.message !== undefined ? err.message : err);
  } catch {
    return "unknown error";
  }
}

const quote = (text) => JSONStringify(StringCtor(text));

// JSON text of any value. Documented in docs/tool.md ("Return values JSON cannot hold"). `seen` holds the objects on
// the current path (cycles), `depth` their count.
function toJson(value, seen, depth) {
  switch (typeof value) {
    case "undefined":
      return "null";
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSONStringify(value);
    case "number":
      return NumberIsFinite(value) ? JSONStringify(value) : quote(StringCtor(value));
    case "bigint":
      return quote(value + "n");
    case "symbol":
      return quote(ReflectApply(SymbolPrototypeToString, value, []));
    case "function":
      return quote(functionLabel(value));
  }
  if (value === null) return "null";
  if (ReflectApply(SetPrototypeHas, seen, [value])) return quote("[Circular]");
  if (depth >= MAX_DEPTH) return quote("[Too deep]");
  ReflectApply(SetPrototypeAdd, seen, [value]);
  try {
    return objectToJson(value, seen, depth + 1);
  } catch (err) {
    return quote("[Unserializable: " + describeError(err) + "]");
  } finally {
    ReflectApply(SetPrototypeDelete, seen, [value]);
  }
}

// The `toJSON` method `value` has, unless it comes from an intrinsic prototype.
function ownToJson(value) {
  for (let o = value; o !== null; o = ObjectGetPrototypeOf(o)) {
    if (ReflectApply(SetPrototypeHas, INTRINSIC_PROTOTYPES, [o])) return undefined;
    const desc = ObjectGetOwnPropertyDescriptor(o, "toJSON");
    if (desc !== undefined) return typeof desc.value === "function" ? desc.value : undefined;
  }
  return undefined;
}

function objectToJson(value, seen, depth) {
  const recurse = (v) => toJson(v, seen, depth);
  if (ArrayIsArray(value)) {
    let out = "[";
    const length = value.length;
    for (let i = 0; i < length; i++) {
      if (i > 0) out += ",";
      out += recurse(value[i]);
    }
    return out + "]";
  }
  if (op_is_date(value)) {
    const time = ReflectApply(DatePrototypeGetTime, value, []);
    return NumberIsFinite(time) ? quote(ReflectApply(DatePrototypeToISOString, value, [])) : "null";
  }
  const toJSON = ownToJson(value);
  if (toJSON !== undefined) {
    return recurse(ReflectApply(toJSON, value, [""]));
  }
  if (isInstance(value, "Error")) {
    let out = '{"name":' + quote(value.name) + ',"message":' + quote(value.message);
    if (value.stack !== undefined) out += ',"stack":' + quote(value.stack);
    return out + entriesJson(value, recurse, true) + "}";
  }
  if (op_is_map(value)) {
    let allStrings = true;
    ReflectApply(MapPrototypeForEach, value, [(_v, k) => {
      if (typeof k !== "string") allStrings = false;
    }]);
    let out = "";
    ReflectApply(MapPrototypeForEach, value, [(v, k) => {
      if (out !== "") out += ",";
      out += allStrings ? JSONStringify(k) + ":" + recurse(v) : "[" + recurse(k) + "," + recurse(v) + "]";
    }]);
    return allStrings ? "{" + out + "}" : "[" + out + "]";
  }
  if (op_is_set(value)) {
    let out = "";
    ReflectApply(SetPrototypeForEach, value, [(v) => {
      if (out !== "") out += ",";
      out += recurse(v);
    }]);
    return "[" + out + "]";
  }
  if (ArrayBufferIsView(value)) {
    return bytesJson(viewBytes(value));
  }
  if (op_is_array_buffer(value)) {
    return bytesJson(new Uint8ArrayCtor(value));
  }
  for (let i = 0; i < OPAQUE_TAGS.length; i++) {
    if (isInstance(value, OPAQUE_TAGS[i])) return quote("[" + OPAQUE_TAGS[i] + "]");
  }
  return "{" + entriesJson(value, recurse, false) + "}";
}

function bytesJson(bytes) {
  let out = "[";
  const length = ReflectApply(TypedArrayByteLength, bytes, []);
  for (let i = 0; i < length; i++) {
    if (i > 0) out += ",";
    out += "" + bytes[i];
  }
  return out + "]";
}

// `"key":value` for each own enumerable string key; `leadingComma` when others come first.
// An own `__proto__` key stays a key.
function entriesJson(value, recurse, leadingComma) {
  const keys = ObjectKeys(value);
  let out = "";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    let json;
    try {
      const v = value[key];
      if (v === undefined) continue; // as JSON.stringify does
      json = recurse(v);
    } catch (err) {
      json = quote("[Thrown: " + describeError(err) + "]");
    }
    if (out !== "" || leadingComma) out += ",";
    out += JSONStringify(key) + ":" + json;
  }
  return out;
}

function serialize(value) {
  try {
    return toJson(value, new SetCtor(), 0);
  } catch (err) {
    return JSONStringify("[Unserializable: " + describeError(err) + "]");
  }
}

// A promise of our own whose reactions cannot be redirected: with an own `constructor` of
// undefined, `then` uses the intrinsic Promise instead of whatever user code made
// `Promise.prototype.constructor` (or its Symbol.species) into.
function guarded(promise) {
  ObjectDefineProperty(promise, "constructor", { value: undefined });
  return promise;
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
// Node's pipe and TCP handles can adopt a raw descriptor (`open(fd)`, reached through
// `net.Socket({ fd })` or any socket's `_handle`): the server's own are numbers too (the MCP
// transport, other executions' sockets). Only an execution that may run programs gets the
// original (its children's pipes; a program reaches the server's descriptors anyway). Defined
// non-writable for every worker (cppgc classes exist only at run time, not in the snapshot):
// op guards cannot replace cppgc methods, and the fast-call upgrade re-sets writable ones.
const UV_EBADF = -9;
function guardDescriptorAdoption() {
  for (const [name, Class] of [["PipeWrap", PipeWrap], ["TCPWrap", TCPWrap]]) {
    const proto = Class?.prototype;
    if (proto === undefined) {
      // Fail closed: an upgrade that renamed the class must not leave open(fd) unguarded.
      throw new ErrorCtor("mcp-conductor: ".concat(name, " not found; cannot guard descriptor adoption"));
    }
    const open = proto.open;
    ObjectDefineProperty(proto, "open", {
      value: function open_(fd) {
        return op_conductor_may_adopt_fd(fd) ? ReflectApply(open, this, [fd]) : UV_EBADF;
      },
      writable: false,
      enumerable: false,
      configurable: false,
    });
  }
}

function harden() {
  upgradeFastOps();
  guardBufferReservations(op_conductor_memory_cap());
  boundWebCrypto();
  guardDescriptorAdoption();
  disableProcessWideApis();
  defineGlobal("mcpFactory", mcpFactory);
  defineGlobal("importPlaybook", importPlaybook);
  defineGlobal("progress", progress);
  defineGlobal("mcp", mcp);
  defineGlobal("state", state);
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

// Memory V8 reserves or allocates without asking the isolate's ArrayBuffer allocator, bounded
// where it is requested (src/sandbox/memory.rs bounds the rest):
// - a resizable ArrayBuffer reserves `maxByteLength` of address space up front: above the memory
//   cap it is a RangeError (what reaches the cap when resized is counted by the memory check);
// - a growable SharedArrayBuffer is counted by nothing: refused;
// - `new ImageData(width, height)` allocates in Rust, where a refusal would end the process:
//   pixels past the cap are a RangeError first.
// Each argument is read and converted once and the primitive passed on, so a valueOf cannot
// answer the check one thing and the constructor another.
function guardBufferReservations(cap) {
  for (const name of ["ArrayBuffer", "SharedArrayBuffer"]) {
    guardConstructor(name, (args) => {
      const length = args[0];
      const options = args[1];
      let max;
      if (options !== null && (typeof options === "object" || typeof options === "function")) {
        max = options.maxByteLength;
      }
      if (max === undefined) return [length];
      if (name === "SharedArrayBuffer") {
        throw new TypeErrorCtor("A growable SharedArrayBuffer is not available in the mcp-conductor sandbox");
      }
      max = NumberCtor(max);
      if (!(max <= cap)) {
        throw new RangeErrorCtor(
          "maxByteLength " + max + " is above the execution's memory limit of " + cap + " bytes (MCP_CONDUCTOR_MAX_MEMORY_MB)",
        );
      }
      return [length, { maxByteLength: max }];
    });
  }
  if (globalThis.ImageData === undefined) return;
  guardConstructor("ImageData", (args) => {
    if (args.length < 2 || (args[0] !== null && (typeof args[0] === "object" || typeof args[0] === "function"))) {
      return args;
    }
    const width = NumberCtor(args[0]);
    const height = NumberCtor(args[1]);
    // Up to 8 bytes a pixel (rgba-float16).
    if (width * height * 8 > cap) {
      throw new RangeErrorCtor(
        "ImageData of " + width + "x" + height + " pixels is above the execution's memory limit of " + cap + " bytes",
      );
    }
    const forward = [width, height];
    for (let i = 2; i < args.length; i++) forward[i] = args[i];
    return forward;
  });
}

// WebCrypto's costly calls run natively, where neither termination nor the deadline reaches, so
// their cost is checked before they start, against the bounds the Node forms use
// (src/sandbox/cost_bounds.rs, one table, through op_conductor_check_cost). The algorithm object
// is copied once (its getters read once) and the copy is what the native method reads, so a
// getter cannot answer the check one thing and the method another. SubtleCrypto's methods on the
// prototype are deno_crypto's JS forwarders to natives it keeps in closures: replacing them leaves
// code no other route.
function boundWebCrypto() {
  const Subtle = globalThis.SubtleCrypto;
  if (Subtle === undefined) return;
  const proto = Subtle.prototype;
  const copy = (algorithm) =>
    algorithm !== null && typeof algorithm === "object" ? ObjectAssign({}, algorithm) : algorithm;
  const hashBytes = (hash) => {
    const name = StringCtor(hash !== null && typeof hash === "object" ? hash.name : hash).toUpperCase();
    return name === "SHA-512" ? 64 : name === "SHA-384" ? 48 : name === "SHA-1" ? 20 : 32;
  };
  const checkDerive = (algorithm, lengthBits) => {
    if (algorithm === null || typeof algorithm !== "object") return;
    const name = StringCtor(algorithm.name).toUpperCase();
    if (name === "PBKDF2") {
      const blocks = lengthBits > 0 ? MathCeil(lengthBits / 8 / hashBytes(algorithm.hash)) : 1;
      op_conductor_check_cost("pbkdf2-hmacs", NumberCtor(algorithm.iterations) * blocks);
    } else if (name === "ARGON2I" || name === "ARGON2D" || name === "ARGON2ID") {
      const memory = NumberCtor(algorithm.memory);
      op_conductor_check_cost("argon2-memory", memory);
      op_conductor_check_cost("argon2-work", memory * NumberCtor(algorithm.passes));
    }
  };
  const replace = (name, check) => {
    const native = proto[name];
    if (typeof native !== "function") return;
    const wrapper = {
      [name](...args) {
        try {
          check(args);
        } catch (err) {
          return PromiseReject(err);
        }
        return ReflectApply(native, this, args);
      },
    }[name];
    ObjectDefineProperty(wrapper, "length", { value: native.length, configurable: true });
    ObjectDefineProperty(proto, name, { value: wrapper, writable: true, enumerable: true, configurable: true });
  };
  replace("deriveBits", (args) => {
    args[0] = copy(args[0]);
    if (args[2] !== undefined && args[2] !== null) args[2] = NumberCtor(args[2]);
    checkDerive(args[0], args[2]);
  });
  replace("deriveKey", (args) => {
    args[0] = copy(args[0]);
    args[2] = copy(args[2]);
    const derived = args[2];
    const bits = derived !== null && typeof derived === "object" && derived.length !== undefined ? NumberCtor(derived.length) : 512;
    checkDerive(args[0], bits);
  });
  replace("generateKey", (args) => {
    args[0] = copy(args[0]);
    const algorithm = args[0];
    if (algorithm !== null && typeof algorithm === "object" && algorithm.modulusLength !== undefined) {
      const bits = NumberCtor(algorithm.modulusLength);
      op_conductor_check_cost("rsa-bits", bits);
      algorithm.modulusLength = bits;
    }
  });
}

// Replaces the global constructor `name` by one that checks its arguments first: `check(args)`
// throws or returns the arguments to construct with. Instances, `instanceof`, subclasses and
// `prototype.constructor` stay the native constructor's.
function guardConstructor(name, check) {
  const Native = globalThis[name];
  const Guarded = new ProxyCtor(Native, {
    construct(target, args, newTarget) {
      return ReflectConstruct(target, check(args), newTarget === Guarded ? target : newTarget);
    },
  });
  ObjectDefineProperty(Native.prototype, "constructor", { value: Guarded, writable: true, enumerable: false, configurable: true });
  ObjectDefineProperty(globalThis, name, { value: Guarded, writable: true, enumerable: false, configurable: true });
}

// deno_core re-attaches the fast-call versions of the snapshot's ops on the first lazy load of
// a residual module, and that pass calls into JS: under termination the call fails and
// deno_core panics where it cannot unwind (runtime/bindings.rs). Done here, while the worker
// warms up (never terminated, see worker.rs), no job's timeout can meet it. The specifier names
// no script: the pass runs, then the load fails and nothing is evaluated.
function upgradeFastOps() {
  try {
    op_load_ext_script("ext:mcp_conductor/no-such-script");
  } catch {
    // expected
  }
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
  // Signal listeners are inert (src/sandbox/op_guards.rs): they never fire, nothing process-wide
  // is installed.
  Deno.chdir = unavailable(
    "Deno.chdir",
    "the working directory is shared by all executions; use absolute paths or WORKSPACE_DIR",
  );
  patchOnFirstUse(Deno, "umask", (umask) =>
    function (mask) {
      if (mask !== undefined) {
        throw new ErrorCtor("Deno.umask(mask) is not available in the mcp-conductor sandbox: the umask is process-wide");
      }
      return ReflectApply(umask, Deno, []);
    });
  const shared = "the environment is shared by all executions; pass `env` to Deno.Command instead";
  patchOnFirstUse(Deno, "env", (env) => {
    env.set = unavailable("Deno.env.set", shared);
    env.delete = unavailable("Deno.env.delete", shared);
    return env;
  });
  // Children started with spawn() (even unref'd ones) are killed when the execution ends.
  patchOnFirstUse(Deno, "Command", (Command) => {
    const spawn = Command.prototype.spawn;
    Command.prototype.spawn = function () {
      const child = ReflectApply(spawn, this, []);
      op_conductor_track_child(child.pid);
      return child;
    };
    return Command;
  });
}

// Replaces `target[name]` by `patch(original)`. Several Deno APIs (and the `process` global)
// are lazy getters whose first use loads their code (Deno.Command's takes milliseconds), so for
// those the patch runs on first use, never for code that does not touch them.
function patchOnFirstUse(target, name, patch) {
  const desc = ObjectGetOwnPropertyDescriptor(target, name);
  if (!desc) return;
  if (!desc.get) {
    ObjectDefineProperty(target, name, { ...desc, value: patch(desc.value) });
    return;
  }
  let patched;
  ObjectDefineProperty(target, name, {
    get() {
      return patched ??= patch(ReflectApply(desc.get, target, []));
    },
    set(value) {
      ObjectDefineProperty(target, name, { value, writable: true, enumerable: desc.enumerable, configurable: true });
    },
    enumerable: desc.enumerable,
    configurable: true,
  });
}

function defineGlobal(name, value) {
  ObjectDefineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
}

// ---- mcpFactory: tools of upstream MCP servers, through the server's in-process proxy ----
// Every request is one op into the server (no network, no token): a method name and its
// params, decoded into src/sandbox/host.rs's HostRequest (its tests read the names used here).

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

// Tool names that never become methods of a loaded server (RESERVED_METHODS in
// src/proxy/typescript.rs, which writes the declarations; a unit test compares the lists).
const RESERVED_TOOL_METHODS = ["name", "tools", "listTools", "callTool", "callToolRaw", "listResources", "readResource", "listPrompts", "getPrompt", "then", "constructor", "__proto__"];
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const ArrayPrototypeIncludes = Array.prototype.includes;
const RegExpPrototypeTest = RegExp.prototype.test;

function upstream(server, tools) {
  const call = (method, name, args) => {
    checkName("tool name", name);
    return hostRequest(method, { server, tool: name, args: checkArgs(name, args) });
  };
  const object = {
    name: server,
    // Tool names as of load(); listTools() asks again (cached until the server says it changed).
    tools: ObjectFreeze(tools),
    listTools: () => hostRequest("listTools", { server }),
    // The tool's result: structuredContent, else its JSON text parsed, else its text; throws
    // with the tool's message when it reports an error (the raw result is `err.result`).
    callTool: (name, args) => call("callTool", name, args),
    // The tool's CallToolResult as the server sent it, errors included.
    callToolRaw: (name, args) => call("callToolRaw", name, args),
    // Resources and prompts (every page); [] from a server without them.
    listResources: () => hostRequest("listResources", { server }),
    readResource: (uri) => {
      checkName("resource URI", uri);
      return hostRequest("readResource", { server, uri });
    },
    listPrompts: () => hostRequest("listPrompts", { server }),
    getPrompt: (name, args) => {
      checkName("prompt name", name);
      return hostRequest("getPrompt", { server, name, args: checkArgs(name, args) });
    },
  };
  // Every other tool is also a method: `await gh.search_issues({ q })` (get_tools with
  // format "typescript" declares them).
  for (let i = 0; i < tools.length; i++) {
    const tool = tools[i];
    if (
      typeof tool === "string" && ReflectApply(RegExpPrototypeTest, IDENTIFIER, [tool]) &&
      !ReflectApply(ArrayPrototypeIncludes, RESERVED_TOOL_METHODS, [tool])
    ) {
      ObjectDefineProperty(object, tool, { value: (args) => call("callTool", tool, args), enumerable: true });
    }
  }
  return ObjectFreeze(object);
}

const mcpFactory = ObjectFreeze({
  listServers: () => hostRequest("listServers", {}),
  async load(server) {
    checkName("server name", server);
    const { tools } = await hostRequest("load", { server });
    return upstream(server, tools);
  },
});

// ---- progress: MCP progress notifications from inside the code (src/server/progress.rs) ----

let lastProgress = -Infinity;

function progress(current, total, message) {
  if (typeof current !== "number" || !NumberIsFinite(current)) {
    throw new TypeErrorCtor("progress(current, total?, message?): current must be a finite number");
  }
  if (current <= lastProgress) {
    throw new TypeErrorCtor("progress: current (".concat(current, ") must be above the previous value (", lastProgress, ")"));
  }
  if (total !== undefined && total !== null && (typeof total !== "number" || !NumberIsFinite(total))) {
    throw new TypeErrorCtor("progress: total must be a finite number when given");
  }
  if (message !== undefined && message !== null && typeof message !== "string") {
    throw new TypeErrorCtor("progress: message must be a string when given");
  }
  lastProgress = current;
  op_conductor_progress(current, total ?? NaN, message ?? "");
}

// ---- state: JSON values kept between calls behind a state handle (src/sandbox/state_slot.rs) ----

function checkStateKey(what, key) {
  if (typeof key !== "string" || key === "") {
    throw new TypeErrorCtor(`state.${what}(key): key must be a non-empty string, got ${typeof key === "string" ? '""' : typeof key}`);
  }
}

const state = ObjectFreeze({
  async get(key) {
    checkStateKey("get", key);
    const json = await op_conductor_state("get", key, "");
    return json === null ? undefined : JSONParse(json);
  },
  async set(key, value) {
    checkStateKey("set", key);
    const json = JSONStringify(value);
    if (json === undefined) {
      throw new TypeErrorCtor(`state.set(key, value): the value must be JSON data, got ${typeof value}`);
    }
    await op_conductor_state("set", key, json);
  },
  async delete(key) {
    checkStateKey("delete", key);
    return JSONParse(await op_conductor_state("delete", key, ""));
  },
  async keys() {
    return JSONParse(await op_conductor_state("keys", "", ""));
  },
});

// ---- mcp: images, audio and files into the tool result (src/sandbox/glue.rs attachments) ----

const Uint8ArrayFrom = (text) => {
  const bytes = new Uint8ArrayCtor(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = ReflectApply(StringPrototypeCharCodeAt, text, [i]);
  return bytes;
};
const StringPrototypeCharCodeAt = String.prototype.charCodeAt;
const StringPrototypeToLowerCase = String.prototype.toLowerCase;
const StringPrototypeLastIndexOf = String.prototype.lastIndexOf;
const StringPrototypeSliceRaw = String.prototype.slice;
const StringPrototypeIndexOf = String.prototype.indexOf;

// Uint8Array (or another typed array / DataView), ArrayBuffer, or a base64 string.
function bytesOf(api, data, atob) {
  if (typeof data === "string") {
    let text;
    try {
      text = atob(data);
    } catch {
      throw new TypeErrorCtor(api.concat(": a string must be base64"));
    }
    return Uint8ArrayFrom(text);
  }
  if (ArrayBufferIsView(data)) return viewBytes(data);
  if (op_is_array_buffer(data)) return new Uint8ArrayCtor(data);
  throw new TypeErrorCtor(api.concat(": data must be a Uint8Array, an ArrayBuffer or a base64 string"));
}

function checkMime(api, mimeType) {
  if (typeof mimeType !== "string" || ReflectApply(StringPrototypeIndexOf, mimeType, ["/"]) < 1) {
    throw new TypeErrorCtor(api.concat(": mimeType must be a MIME type such as \"image/png\""));
  }
  return mimeType;
}

const MIME_BY_EXTENSION = ObjectFreeze({
  __proto__: null, txt: "text/plain", md: "text/markdown", csv: "text/csv", html: "text/html", htm: "text/html",
  css: "text/css", js: "text/javascript", ts: "text/plain", xml: "application/xml", json: "application/json",
  yaml: "application/yaml", yml: "application/yaml", svg: "image/svg+xml", png: "image/png", jpg: "image/jpeg",
  jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", pdf: "application/pdf", wav: "audio/wav",
  mp3: "audio/mpeg", ogg: "audio/ogg",
});

// Deno's file APIs and atob are looked up when used, not in harden(): touching them there would
// load their lazily loaded modules in every worker, which costs every execution milliseconds.
// (Code that replaces them only changes what it attaches itself.)
const mcp = ObjectFreeze({
  image: (data, mimeType) => op_conductor_attach("image", checkMime("mcp.image", mimeType), bytesOf("mcp.image", data, globalThis.atob)),
  audio: (data, mimeType) => op_conductor_attach("audio", checkMime("mcp.audio", mimeType), bytesOf("mcp.audio", data, globalThis.atob)),
  // The execution's read permission applies (Deno's own file APIs read it).
  file(path, mimeType) {
    const real = Deno.realPathSync(path);
    const bytes = Deno.readFileSync(real);
    let mime = mimeType;
    if (mime === undefined) {
      const dot = ReflectApply(StringPrototypeLastIndexOf, real, ["."]);
      const ext = dot < 0 ? "" : ReflectApply(StringPrototypeToLowerCase, ReflectApply(StringPrototypeSliceRaw, real, [dot + 1]), []);
      mime = MIME_BY_EXTENSION[ext] ?? "application/octet-stream";
    }
    op_conductor_attach("file://".concat(real), checkMime("mcp.file", mime), bytes);
  },
});

// ---- importPlaybook: a playbook's module, read by the server (src/playbooks/store.rs) ----

const PLAYBOOK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
function importPlaybook(name) {
  if (typeof name !== "string" || !ReflectApply(RegExpPrototypeTest, PLAYBOOK_NAME, [name])) {
    const shown = typeof name === "string" ? JSONStringify(name) : typeof name;
    return PromiseReject(new TypeErrorCtor(
      `importPlaybook: invalid playbook folder name ${shown}: use 1 to 64 letters, digits, '_' or '-'`,
    ));
  }
  return import(`${PLAYBOOK_SCHEME}://${name}/playbook.ts`);
}

// Runs the user's statements (an async function) and resolves to the JSON text of their
// result, through the captured `then` (an `await` here would look up user-replaceable
// `constructor` and `then`).
function run(fn) {
  return guarded(ReflectApply(PromisePrototypeThen, guarded(fn()), [serialize]));
}

ObjectDefineProperty(globalThis, SymbolFor(HOOK_KEY), {
  value: ObjectFreeze({ harden, setup, run }),
  writable: false,
  enumerable: false,
  configurable: false,
});
