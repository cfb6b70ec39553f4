// http-utilities: fetch with a timeout per attempt and retries with a doubling delay, and a JSON
// shortcut. Same names, options and behaviour as the original mcp-conductor's playbook, so code
// written for it runs unchanged.

export interface FetchWithRetryOptions extends RequestInit {
  /** Extra attempts after the first (default 3, so up to 4 requests). */
  retries?: number;
  /** Wait in ms before the first retry, doubled before each further one (default 1000). */
  retryDelay?: number;
  /** Time in ms one attempt may wait for the response headers (default 30000). */
  timeout?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One request whose signal aborts after `timeout` ms, or when the caller's own signal does. */
async function attempt(url: string | URL, init: RequestInit, timeout: number): Promise<Response> {
  const controller = new AbortController();
  const outer = init.signal;
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", () => controller.abort(outer.reason), { once: true });
  }
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no response from ${url} within ${timeout} ms`, "TimeoutError")),
    timeout,
  );
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `fetch` with retries. A network error (refused, reset, DNS, timeout) or a non-ok status is
 * retried after `retryDelay` ms, then twice that, and so on. When the retries run out, a non-ok
 * response is returned as it is (check `response.ok`) and a network error is thrown. Missing
 * permissions (`allow-net`) and an abort by the caller's own `signal` are thrown at once.
 */
export async function fetchWithRetry(
  url: string | URL,
  { retries = 3, retryDelay = 1000, timeout = 30000, ...fetchInit }: FetchWithRetryOptions = {},
): Promise<Response> {
  const maxRetries = Number.isFinite(retries) && retries > 0 ? Math.floor(retries) : 0;
  for (let n = 0; ; n++) {
    const last = n >= maxRetries;
    let failure: string;
    try {
      const response = await attempt(url, fetchInit, timeout);
      if (response.ok || last) return response;
      failure = `HTTP ${response.status} ${response.statusText}`.trim();
      await response.body?.cancel().catch(() => {});
    } catch (error) {
      if (last || error instanceof Deno.errors.NotCapable || fetchInit.signal?.aborted) throw error;
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const delay = retryDelay * 2 ** n;
    console.log(`fetchWithRetry: attempt ${n + 1} of ${maxRetries + 1} failed (${failure}); retrying in ${delay} ms`);
    await sleep(delay);
  }
}

/**
 * `fetchWithRetry`, then the body parsed as JSON. The status is not checked: a non-ok answer
 * with a JSON body (an API's error object) is returned like any other; a body that is not JSON
 * throws a SyntaxError.
 */
export async function fetchJSON<T = unknown>(url: string | URL, options: FetchWithRetryOptions = {}): Promise<T> {
  const response = await fetchWithRetry(url, options);
  return (await response.json()) as T;
}
