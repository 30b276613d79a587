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
      const jwks =
        options.jwks ??
        createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: options.cooldownMs ?? 30_000, timeoutDuration: 5_000 });
      return {
        mode: 'jwt',
        authenticate: async (req) => {
          const token = req.body.trim();
          try {
            const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256'], issuer: settings.issuer });
            const { metadata, body } = payload as { metadata?: unknown; body?: unknown };
            const message = { metadata, body };
            return { ok: true, text: JSON.stringify(message), value: message };
          } catch (err) {
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

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} rejected: ${err.reason}`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEError) return `${err.code}: ${err.message}`;
  return `JWKS unavailable: ${err instanceof Error ? err.message : String(err)}`;
}
