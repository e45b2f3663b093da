// Login throttling: each failed login, per account and per client address, makes the next
// attempt wait longer (1 s, 2 s, 4 s … up to 15 min) once a few have failed; a success clears
// the account's count and its address's. Kept in memory per instance: a slow guesser across instances gets a few
// more tries, never a fast path. The answer while throttled is 429 with Retry-After, whether or
// not the account exists.
const FREE_FAILURES = 5;
const MAX_DELAY_MS = 15 * 60_000;
/** A count is forgotten this long after its last failure. */
const FORGET_AFTER_MS = 60 * 60_000;
const MAX_KEYS = 50_000;

interface Record {
  failures: number;
  last: number;
}

export class LoginThrottle {
  readonly #byKey = new Map<string, Record>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds the next attempt must wait for (0: go ahead). */
  waitFor(account: string, address: string): number {
    return Math.max(this.#wait(`a:${account.toLowerCase()}`), this.#wait(`c:${address}`));
  }

  failed(account: string, address: string): void {
    for (const key of [`a:${account.toLowerCase()}`, `c:${address}`]) {
      const r = this.#live(key);
      this.#byKey.set(key, { failures: (r?.failures ?? 0) + 1, last: this.now() });
    }
    if (this.#byKey.size > MAX_KEYS) this.#forgetOld();
  }

  /** A good login clears the account's count and the address's (an office behind one NAT
   *  address is not kept waiting for one person's typos). */
  succeeded(account: string, address: string): void {
    this.#byKey.delete(`a:${account.toLowerCase()}`);
    this.#byKey.delete(`c:${address}`);
  }

  #wait(key: string): number {
    const r = this.#live(key);
    if (!r || r.failures < FREE_FAILURES) return 0;
    const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** (r.failures - FREE_FAILURES));
    return Math.max(0, r.last + delay - this.now());
  }

  #live(key: string): Record | undefined {
    const r = this.#byKey.get(key);
    if (r && this.now() - r.last > FORGET_AFTER_MS) {
      this.#byKey.delete(key);
      return undefined;
    }
    return r;
  }

  #forgetOld() {
    const cutoff = this.now() - FORGET_AFTER_MS;
    for (const [key, r] of this.#byKey) if (r.last < cutoff) this.#byKey.delete(key);
  }
}
