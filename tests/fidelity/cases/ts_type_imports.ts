import type { ParsedPath } from "node:path";
import { type Buffer as BufferType, Buffer } from "node:buffer";
import * as path from "node:path";
export type { ParsedPath };
export interface Config { name: string; path: ParsedPath }
const parsed: ParsedPath = path.parse("/srv/app/config.json");
const cfg: Config = { name: "app", path: parsed };
console.log(cfg);
const b: BufferType = Buffer.from("typed");
console.log(b.toString("hex"));
export const exported = 1;
console.log(exported);
