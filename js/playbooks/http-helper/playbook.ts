// HTTP helper playbook: fetch with timeout and retries, and JSON helpers.

export interface RetryOptions extends RequestInit {
  /** Extra attempts after the first (default 2). */
  retries?: number;
  /** Per-attempt timeout in ms (default 10000). */
  timeoutMs?: number;
  /** First retry delay in ms, doubled each time (default 250). */
  backoffMs?: number;
  /** Status codes worth retrying. */
  retryOn?: number[];
}

export class HttpError extends Error {
  constructor(
    public status: number,
    public url: string,
    public body: string,
  ) {
    super(`HTTP ${status} from ${url}: ${body.slice(0, 500)}`);
    this.name = "HttpError";
  }
}

const DEFAULT_RETRY_ON = [408, 425, 429, 500, 502, 503, 504];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryDelay(res: Response | undefined, fallback: number): number {
  const header = res?.headers.get("retry-after");
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.min(seconds * 1000, 30_000);
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.min(Math.max(date - Date.now(), 0), 30_000);
  }
  return fallback;
}

export async function fetchWithRetry(url: string | URL, options: RetryOptions = {}): Promise<Response> {
  const { retries = 2, timeoutMs = 10_000, backoffMs = 250, retryOn = DEFAULT_RETRY_ON, ...init } = options;
  let delay = backoffMs;
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= retries;
    const signal = init.signal ?? AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetch(url, { ...init, signal });
      if (last || !retryOn.includes(res.status)) return res;
      await res.body?.cancel();
      await sleep(retryDelay(res, delay));
    } catch (err) {
      // Permission errors and caller aborts are not worth retrying.
      if (last || err instanceof Deno.errors.NotCapable || init.signal?.aborted) throw err;
      await sleep(delay);
    }
    delay *= 2;
  }
}

async function parse(res: Response, url: string | URL): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, String(url), text);
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(res.status, String(url), `not JSON: ${text}`);
  }
}

export async function getJson<T = unknown>(url: string | URL, options: RetryOptions = {}): Promise<T> {
  const headers = new Headers(options.headers);
  if (!headers.has("accept")) headers.set("accept", "application/json");
  return (await parse(await fetchWithRetry(url, { ...options, headers }), url)) as T;
}

export async function postJson<T = unknown>(url: string | URL, data: unknown, options: RetryOptions = {}): Promise<T> {
  const headers = new Headers(options.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  if (!headers.has("accept")) headers.set("accept", "application/json");
  const res = await fetchWithRetry(url, { retries: 0, ...options, method: options.method ?? "POST", headers, body: JSON.stringify(data) });
  return (await parse(res, url)) as T;
}
