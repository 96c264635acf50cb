/**
 * A node's OAuth2 access token, kept between admissions while it has time left. Every reattach
 * runs an admission (attach tickets are single use), and a fresh token each time is an OAuth2
 * round trip, a TLS handshake and a JWT signature per node: after a sentinel restart, all of
 * them at once. The token is what OAuth2 clients keep anyway (RFC 6749 §4.4): it is reused
 * until shortly before `expires_in` runs out, and dropped when Welcome refuses it.
 */
export class AccessTokenCache {
  private token: string | undefined;
  private expiresAt = 0;

  /** @param marginMs a token with less than this left is not handed out (default 30 s) */
  constructor(
    private readonly marginMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** the kept token, if it has more than the margin left */
  current(): string | undefined {
    if (this.token === undefined || this.expiresAt - this.now() <= this.marginMs) return undefined;
    return this.token;
  }

  /** keeps a token that expires in `expiresInSec`; one without a lifetime is not kept */
  store(token: string, expiresInSec: number | undefined): void {
    if (expiresInSec === undefined) {
      this.clear();
      return;
    }
    this.token = token;
    this.expiresAt = this.now() + expiresInSec * 1000;
  }

  clear(): void {
    this.token = undefined;
    this.expiresAt = 0;
  }
}
