import type { FastifyInstance } from "fastify";

/** Parameters seen more than once keep every value so the endpoint can refuse them (RFC 6749 §3.2). */
export type FormBody = Record<string, string | string[]>;

const MAX_PARAMS = 32;

/**
 * application/x-www-form-urlencoded, the token endpoint's mandated encoding.
 * The body is size-capped by fastify before this runs.
 */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    const params = new URLSearchParams(body as string);
    const out: FormBody = Object.create(null) as FormBody;
    let count = 0;
    for (const [k, v] of params) {
      if (++count > MAX_PARAMS) {
        done(Object.assign(new Error("too many form parameters"), { statusCode: 400 }), undefined);
        return;
      }
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    done(null, out);
  });
}
