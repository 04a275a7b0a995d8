/**
 * Polls `pred` until it returns a match, or fails after `ms`: generous by default, since CI shares a
 * busy two-core machine and a condition that holds returns at once anyway.
 */
export async function waitFor(
  pred: () => RegExpMatchArray | null,
  what: string,
  ms = 120_000,
): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = pred();
    if (m) return m;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the async `pred` until it returns true, or fails after `ms`: for conditions read from a database or a server. */
export async function waitUntil(pred: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
