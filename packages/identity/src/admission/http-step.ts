import { OutboundError, requestJson } from "@fame/http-service/client";
import { withTrustHint } from "@fame/http-service/trust-problem";
import { AdmissionError, type AdmissionStep, RETRY_AFTER_MAX_SEC } from "./errors.js";

const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;
const ERROR_DESCRIPTION_MAX = 300;

export interface StepRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
  ca: string | undefined;
  timeoutMs: number;
}

/**
 * One admission request. Failures become AdmissionError carrying the
 * server's own error code when its answer has one, so callers can tell
 * `invalid_client` from `logical_not_allowed` without parsing text.
 */
export async function stepRequest(step: AdmissionStep, req: StepRequest): Promise<unknown> {
  try {
    return await withDeadline(
      requestJson(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        ca: req.ca,
        timeoutMs: req.timeoutMs,
        maxBytes: 256 * 1024,
      }),
      req.timeoutMs,
      step,
    );
  } catch (err) {
    throw toAdmissionError(step, err);
  }
}

function toAdmissionError(step: AdmissionStep, err: unknown): AdmissionError {
  if (err instanceof AdmissionError) return err;
  if (err instanceof OutboundError) {
    if (err.code === "http_status") {
      const body = err.body as
        | { error?: unknown; error_description?: unknown; retry_after?: unknown }
        | undefined;
      const code =
        typeof body?.error === "string" && ERROR_CODE.test(body.error) ? body.error : `http_${err.status}`;
      const said =
        typeof body?.error_description === "string"
          ? body.error_description.slice(0, ERROR_DESCRIPTION_MAX)
          : `server answered ${err.status}`;
      // the setting to look at, for the refusal a wrong setting causes
      const description =
        code === "invalid_client"
          ? `${said} (check FAME_ADMISSION_CLIENT_ID and FAME_ADMISSION_CLIENT_SECRET; fame env prints the dev fabric's)`
          : said;
      const hint = body?.retry_after;
      const retryAfterSec =
        (err.status === 503 || err.status === 429) &&
        typeof hint === "number" &&
        Number.isInteger(hint) &&
        hint >= 0
          ? Math.min(hint, RETRY_AFTER_MAX_SEC)
          : undefined;
      return new AdmissionError(step, code, description, err.status, {
        cause: err,
        ...(retryAfterSec === undefined ? {} : { retryAfterSec }),
      });
    }
    const code = err.code === "bad_json" || err.code === "too_large" ? "bad_response" : err.code;
    return new AdmissionError(step, code, withTrustHint(err.message), err.status, { cause: err });
  }
  return new AdmissionError(
    step,
    "network",
    withTrustHint((err as Error)?.message ?? String(err)),
    undefined,
    {
      cause: err,
    },
  );
}

/** An overall deadline: the socket timeout alone restarts on every byte a slow server trickles. */
export function withDeadline<T>(p: Promise<T>, ms: number, step: AdmissionStep): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AdmissionError(step, "timeout", `no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
