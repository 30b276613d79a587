import { timingSafeEqual, createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { webhookAuthSettings as authSettings, type Config, type WebhookAuthMode, type WebhookAuthSettings } from '../config.js';
import { ConfigError } from '../errors.js';

/**
 * Authentication of webhook deliveries (SPEC §1.1):
 * - `jwt`: the body is a compact JWS (RS256) whose claims hold `metadata` and `body`, verified against a
 *   JWKS (cached; an unknown `kid` triggers a refresh, so rotated keys are picked up), issuer checked;
 * - `secret`: plain JSON carrying the shared secret as `?secret=` or `X-Gradestream-Secret`;
 * - `none`: for local use only (warned about at start, exported as a metric).
 */
export type { WebhookAuthMode, WebhookAuthSettings } from '../config.js';

/** The mode and its settings from the configuration (loadConfig has already listed what a mode lacks). */
export function webhookAuthSettings(
  config: Pick<Partial<Config>, 'webhookAuth' | 'webhookJwksUrl' | 'webhookIssuer' | 'webhookSecret'>,
): WebhookAuthSettings {
  const settings = authSettings(config);
  if ('problems' in settings) throw new ConfigError(settings.problems);
  return settings;
}

/** A refusal is final (401) unless the JWKS could not be fetched: then the sender should retry (503). */
export type AuthResult =
  | { ok: true; text: string; value?: unknown }
  | { ok: false; why: string; retryable?: boolean };

export interface WebhookRequest {
  body: string;
  headers: Record<string, string | string[] | undefined>;
  query: URLSearchParams;
}

export interface WebhookAuthenticator {
  readonly mode: WebhookAuthMode;
  /** The Canvas message inside an authentic delivery, or why it was refused (answered with 401). */
  authenticate(req: WebhookRequest): Promise<AuthResult>;
}

export function webhookAuthenticator(
  settings: WebhookAuthSettings,
  options: { jwks?: JWTVerifyGetKey; cooldownMs?: number } = {},
): WebhookAuthenticator {
  switch (settings.mode) {
    case 'none':
      return { mode: 'none', authenticate: async (req) => ({ ok: true, text: req.body }) };
    case 'secret': {
      // Compare digests: constant time whatever the lengths of the two strings.
      const expected = createHash('sha256').update(settings.secret).digest();
      return {
        mode: 'secret',
        authenticate: async (req) => {
          const header = req.headers['x-gradestream-secret'];
          const given = (Array.isArray(header) ? header[0] : header) ?? req.query.get('secret');
          if (given === null || given === undefined) return { ok: false, why: 'no webhook secret given' };
          const digest = createHash('sha256').update(given).digest();
          return timingSafeEqual(digest, expected) ? { ok: true, text: req.body } : { ok: false, why: 'wrong webhook secret' };
        },
      };
    }
    case 'jwt': {
      // After a fetch, jose does not fetch the JWKS again for the cooldown, whatever kid comes: a bound
      // on what a flood of made-up kids costs Canvas's JWKS endpoint.
      const cooldownMs = options.cooldownMs ?? JWKS_COOLDOWN_MS;
      const jwks = options.jwks ?? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: cooldownMs, timeoutDuration: 5_000 });
      return {
        mode: 'jwt',
        authenticate: async (req) => {
          const token = req.body.trim();
          // Fetched within the cooldown: a kid it lacks may be a key rotated in since, not checked yet.
          const cooling = (jwks as Partial<{ coolingDown: boolean }>).coolingDown === true;
          try {
            const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256'], issuer: settings.issuer });
            const { metadata, body } = payload as { metadata?: unknown; body?: unknown };
            const message = { metadata, body };
            return { ok: true, text: JSON.stringify(message), value: message };
          } catch (err) {
            if (err instanceof joseErrors.JWKSNoMatchingKey && cooling) {
              // Refused (401) only once a fetch after the token came in lacks its key; until then the
              // sender retries (503), so an event signed with a key just rotated in is not lost.
              return { ok: false, why: `no key of the JWKS (fetched within the last ${cooldownMs / 1000} s) matches the token; retry`, retryable: true };
            }
            // Our side cannot verify (JWKS down, bad JWKS): not the sender's fault, so let it retry.
            const unreachable =
              !(err instanceof joseErrors.JOSEError) ||
              err instanceof joseErrors.JWKSTimeout ||
              err instanceof joseErrors.JWKSInvalid ||
              err.code === 'ERR_JOSE_GENERIC';
            return { ok: false, why: describeJoseError(err), retryable: unreachable };
          }
        },
      };
    }
  }
}

/** How long after a JWKS fetch an unknown kid waits for the next one (jose's cooldown). */
export const JWKS_COOLDOWN_MS = 5_000;

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} rejected: ${err.reason}`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEError) return `${err.code}: ${err.message}`;
  return `JWKS unavailable: ${err instanceof Error ? err.message : String(err)}`;
}
