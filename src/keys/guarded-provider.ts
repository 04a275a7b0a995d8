import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type IPolicy,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { isRegistryError, RegistryError } from '../core/errors.js';
import type { CurrentRootKeyTest, KeyContext, RootKeyProvider, WrappedKey } from '../core/ports.js';

export interface ProviderGuardOptions {
  /** The longest one call may take, the provider's own retries included, in ms. (Default: 5000) */
  timeoutMs?: number;
  /** Outages in a row (UNAVAILABLE or a missed deadline) that open the circuit. (Default: 5) */
  breakAfter?: number;
  /** How long an open circuit fails calls at once before one trial call is let through, in ms. (Default: 10000) */
  openMs?: number;
}

/** How often `health()` may call the provider itself, in ms. */
const PROBE_EVERY_MS = 5000;

/** Whether the provider looks reachable: for `/readyz`. */
export interface ProviderHealth {
  healthy: boolean;
  detail: string;
}

/**
 * A root key provider behind a deadline and a circuit breaker. A provider that hangs costs a
 * request one deadline, not its own timeout times its retries; once it has failed `breakAfter`
 * times in a row, calls fail at once with UNAVAILABLE until a trial call after `openMs` succeeds,
 * so an outage does not hold every cold reveal for a deadline. Refusals (CRYPTO: a wrong or
 * tampered key) are answers, not outages, and never open the circuit.
 */
export class GuardedProvider implements RootKeyProvider {
  readonly name: string;
  readonly keyId?: string;
  readonly generateKey?: RootKeyProvider['generateKey'];
  readonly rewrapKey?: RootKeyProvider['rewrapKey'];
  readonly #inner: RootKeyProvider;
  readonly #breaker: ReturnType<typeof circuitBreaker>;
  readonly #policy: IPolicy;
  readonly #timeoutMs: number;
  #probe: Promise<unknown> | undefined;
  #probedAt = Number.NEGATIVE_INFINITY;
  #probeError: string | undefined;

  constructor(inner: RootKeyProvider, options: ProviderGuardOptions = {}) {
    this.#inner = inner;
    this.name = inner.name;
    this.keyId = inner.keyId;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#breaker = circuitBreaker(
      handleWhen((err) => err instanceof TaskCancelledError || isRegistryError(err, 'UNAVAILABLE')),
      { halfOpenAfter: options.openMs ?? 10_000, breaker: new ConsecutiveBreaker(options.breakAfter ?? 5) },
    );
    // Aggressive: the caller is answered at the deadline even if the provider's call never returns.
    this.#policy = wrap(this.#breaker, timeout(this.#timeoutMs, TimeoutStrategy.Aggressive));
    if (inner.generateKey) this.generateKey = (context) => this.#call(() => inner.generateKey!(context));
    if (inner.rewrapKey)
      this.rewrapKey = (wrapped, context) => this.#call(() => inner.rewrapKey!(wrapped, context));
  }

  canUnwrap(wrapped: WrappedKey): boolean {
    return this.#inner.canUnwrap(wrapped);
  }

  currentKeyTest(): Promise<CurrentRootKeyTest> {
    return this.#call(() => this.#inner.currentKeyTest());
  }

  wrapKey(plaintextKey: Uint8Array, context: KeyContext): Promise<WrappedKey> {
    return this.#call(() => this.#inner.wrapKey(plaintextKey, context));
  }

  async unwrapKey(wrapped: WrappedKey, context: KeyContext): Promise<Uint8Array> {
    let late: Promise<Uint8Array> | undefined;
    try {
      return await this.#call(() => (late = this.#inner.unwrapKey(wrapped, context)));
    } catch (err) {
      // Past the deadline the provider may still answer: nobody takes that key, so zero it.
      late?.then(
        (key) => key.fill(0),
        () => {},
      );
      throw err;
    }
  }

  /**
   * Whether the provider is reachable: not while the circuit is open, and not when the last probe
   * failed. A probe (`currentKeyTest`: Transit reads its key, KMS describes it) runs at most once
   * per `PROBE_EVERY_MS` however often this is asked, so a load balancer polling `/readyz` on
   * every instance does not load the provider.
   */
  async health(): Promise<ProviderHealth> {
    if (Date.now() - this.#probedAt >= PROBE_EVERY_MS) {
      this.#probe ??= this.currentKeyTest()
        .then(
          () => (this.#probeError = undefined),
          (err: unknown) => (this.#probeError = isRegistryError(err) ? err.message : 'the probe failed'),
        )
        .finally(() => {
          this.#probedAt = Date.now();
          this.#probe = undefined;
        });
      await this.#probe;
    }
    const state = this.#breaker.state;
    if (state === CircuitState.Open || state === CircuitState.Isolated)
      return { healthy: false, detail: `root key provider ${this.name} unreachable (circuit open)` };
    if (this.#probeError) return { healthy: false, detail: this.#probeError };
    return { healthy: true, detail: `root key provider ${this.name} reachable` };
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#policy.execute(fn);
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        throw new RegistryError(
          'UNAVAILABLE',
          `the root key provider ${this.name} is unreachable (it failed repeatedly; the next attempt is made shortly); retry later`,
        );
      }
      if (err instanceof TaskCancelledError) {
        throw new RegistryError(
          'UNAVAILABLE',
          `the root key provider ${this.name} did not answer within ${this.#timeoutMs} ms; retry later`,
        );
      }
      throw err;
    }
  }
}
