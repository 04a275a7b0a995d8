/** Polls `pred` until it returns a match, or fails after `ms`. */
export async function waitFor(
  pred: () => RegExpMatchArray | null,
  what: string,
  ms = 30_000,
): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = pred();
    if (m) return m;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
