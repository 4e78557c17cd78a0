/**
 * Reads to its end, and discards, a request body the Worker answered without reading (a 413 for
 * a declared size over the limit, a 405, a 401 before the body mattered, ...). Answering while the
 * client is still uploading a large body and leaving the body unread resets the connection before
 * the client reads the answer: through `wrangler dev` the fuzzer (bench/fuzz.ts) saw ECONNRESET
 * and the dev proxy's 500 "Network connection lost" for most early refusals of 8 MiB bodies
 * (also reported upstream as workers-sdk#15709), instead of the documented 413 naming the limit.
 * Draining first, it got the 413 every time. It only moves bytes (nothing is kept) and the
 * platform caps request bodies, which bounds the wait.
 */
export async function drainUnreadBody(request: Request): Promise<void> {
  const body = request.body;
  if (!body || request.bodyUsed || body.locked) return;
  const reader = body.getReader();
  try {
    while (!(await reader.read()).done);
  } catch {
    /* the client went away: nothing left to drain */
  }
}
