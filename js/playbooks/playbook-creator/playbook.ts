// playbook-creator: helpers for writing a playbook that the create_playbook tool saves.
// Code in run_deno_code cannot call create_playbook itself (it is a tool of this server, called
// by the agent): these helpers prepare and check its arguments, and test a saved playbook.

/** The arguments of the create_playbook tool. */
export interface CreatePlaybookArgs {
  /** 1-64 letters, digits, '_' or '-'; code imports the playbook with importPlaybook(folder_name). */
  folder_name: string;
  /** Display name. */
  name: string;
  /** One line: what it is for (list_playbooks shows it). */
  description: string;
  /** Markdown documentation: what it does and how to call it. */
  content: string;
  /** TypeScript module; its exports are what importPlaybook returns. */
  code?: string;
  author?: string;
  version?: string;
  tags?: string[];
  /** Replace an existing playbook of that folder name (default false: refused). */
  overwrite?: boolean;
}

export const FOLDER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Why `folder` is not a valid folder name, or null when it is. */
export function folderNameProblem(folder: unknown): string | null {
  if (typeof folder !== "string") return "folder_name must be a string";
  if (!FOLDER_NAME.test(folder)) {
    return `invalid folder_name ${JSON.stringify(folder)}: use 1 to 64 letters, digits, '_' or '-' (no paths)`;
  }
  return null;
}

/** A lowercase folder name derived from a display name ("Geo Tools!" -> "geo-tools"). */
export function toFolderName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return slug || "playbook";
}

export interface FunctionDoc {
  /** e.g. "norm(p: { x: number; y: number }): number" */
  signature: string;
  description: string;
}

export interface DocsInput {
  name: string;
  description: string;
  /** The folder name, for the import line (default: derived from `name`). */
  folder?: string;
  functions?: FunctionDoc[];
  /** Permissions the code needs, e.g. ["allow-net=api.github.com"]. */
  permissions?: string[];
  /** A short TypeScript example (without the import line). */
  example?: string;
}

/** A Markdown skeleton for `content`: title, purpose, import line, example, functions, permissions. */
export function docsTemplate(input: DocsInput): string {
  const folder = input.folder ?? toFolderName(input.name);
  const binding = folder.replace(/[^A-Za-z0-9_]/g, "_").replace(/^([0-9])/, "_$1");
  const lines = [`# ${input.name}`, "", input.description, "", "```ts", `const ${binding} = await importPlaybook(${JSON.stringify(folder)});`];
  if (input.example) lines.push(input.example.trim());
  lines.push("```");
  if (input.functions?.length) {
    lines.push("", "## Functions", "");
    for (const f of input.functions) lines.push(`- \`${f.signature}\`: ${f.description}`);
  }
  lines.push("", "## Permissions", "");
  lines.push(
    input.permissions?.length
      ? `Needs ${input.permissions.map((p) => `\`${p}\``).join(", ")} in the server's MCP_CONDUCTOR_RUN_ARGS (see the PERMISSIONS global).`
      : "None: it only computes.",
  );
  return lines.join("\n") + "\n";
}

/**
 * Checks and completes create_playbook arguments: valid folder name, non-empty name and
 * description, string tags; `content` defaults to `docsTemplate`. Returns only the tool's keys,
 * ready to be the execution's result and then the create_playbook call's arguments. Throws a
 * TypeError listing every problem.
 */
export function createPlaybookArgs(input: Partial<CreatePlaybookArgs> & { name: string; description: string }): CreatePlaybookArgs {
  const folder_name = input.folder_name ?? toFolderName(input.name ?? "");
  const problems: string[] = [];
  const folderProblem = folderNameProblem(folder_name);
  if (folderProblem) problems.push(folderProblem);
  if (typeof input.name !== "string" || !input.name.trim()) problems.push("name must be a non-empty string");
  if (typeof input.description !== "string" || !input.description.trim()) {
    problems.push("description must be a non-empty string");
  }
  if (input.code !== undefined && typeof input.code !== "string") problems.push("code must be a string");
  if (input.code !== undefined && typeof input.code === "string" && !/\bexport\b/.test(input.code)) {
    problems.push("code exports nothing: importPlaybook returns the module's exports");
  }
  if (input.tags !== undefined && !(Array.isArray(input.tags) && input.tags.every((t) => typeof t === "string"))) {
    problems.push("tags must be an array of strings");
  }
  for (const key of ["author", "version"] as const) {
    if (input[key] !== undefined && typeof input[key] !== "string") problems.push(`${key} must be a string`);
  }
  if (problems.length) throw new TypeError(`create_playbook arguments: ${problems.join("; ")}`);
  const args: CreatePlaybookArgs = {
    folder_name,
    name: input.name,
    description: input.description,
    content: input.content ?? docsTemplate({ name: input.name, description: input.description, folder: folder_name }),
  };
  if (input.code !== undefined) args.code = input.code;
  if (input.author !== undefined) args.author = input.author;
  if (input.version !== undefined) args.version = input.version;
  if (input.tags !== undefined) args.tags = input.tags;
  if (input.overwrite !== undefined) args.overwrite = input.overwrite;
  return args;
}

export interface ExportInfo {
  name: string;
  /** typeof the export: "function", "object", "number"... */
  type: string;
  /** Declared parameters, for functions. */
  arity?: number;
}

/** Imports a saved playbook and lists its exports: a quick check after create_playbook. */
export async function inspectPlaybook(folder: string): Promise<{ folder: string; exports: ExportInfo[] }> {
  const problem = folderNameProblem(folder);
  if (problem) throw new TypeError(problem);
  const module = (await importPlaybook(folder)) as Record<string, unknown>;
  const exports = Object.keys(module)
    .sort()
    .map((name) => {
      const value = module[name];
      const info: ExportInfo = { name, type: typeof value };
      if (typeof value === "function") info.arity = value.length;
      return info;
    });
  return { folder, exports };
}

declare function importPlaybook(folder: string): Promise<unknown>;
