/** No response headers arrived within the request timeout. */
export class RequestTimeout extends Error {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer within ${timeoutMs / 1000} s`)
  }
}

export interface RequestTiming {
  /** How long a request may wait for its response headers before it is aborted with a RequestTimeout. */
  readonly timeoutMs: number
  /** Every this many ms without an answer, `onWaiting` is told how long the request has waited. */
  readonly noticeMs: number
  readonly onWaiting: (url: string, elapsedMs: number) => void
}

const urlOf = (input: string | URL | Request) => (input instanceof Request ? input.url : String(input))

/**
 * `fetch` with a deadline for the response headers (undici's own is 300 s, a silent five-minute hang
 * against a hub that accepts the connection and never answers) and "still waiting" notices while it
 * waits. The caller's signal still aborts the request and its body.
 */
export const withRequestTimeout =
  (fetch: typeof globalThis.fetch, timing: RequestTiming): typeof globalThis.fetch =>
  async (input, init) => {
    const url = urlOf(input)
    const controller = new AbortController()
    const outer = init?.signal
    if (outer) {
      if (outer.aborted) controller.abort(outer.reason)
      else outer.addEventListener("abort", () => controller.abort(outer.reason), { once: true })
    }
    const started = Date.now()
    const notice = setInterval(() => timing.onWaiting(url, Date.now() - started), timing.noticeMs)
    const timer = setTimeout(
      () => controller.abort(new RequestTimeout(url, timing.timeoutMs)),
      timing.timeoutMs,
    )
    try {
      return await fetch(input, { ...init, signal: controller.signal })
    } finally {
      clearTimeout(timer)
      clearInterval(notice)
    }
  }
