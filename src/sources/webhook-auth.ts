import { isUtf8 } from 'node:buffer';
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

/**
 * A delivery's Canvas message as bytes (`text` is their UTF-8 reading, or '' when they are not UTF-8:
 * intake quarantines them as invalid_utf8, keeping the bytes), or why it was refused: finally (401)
 * unless `retryable` (the JWKS could not be had: 503, the sender retries).
 */
export type AuthResult = { ok: true; text: string; bytes: Uint8Array } | Refusal;
export type Refusal = { ok: false; why: string; retryable?: boolean };

/** What can be checked before the body is read. */
export interface WebhookCredentials {
  headers: Record<string, string | string[] | undefined>;
  query: URLSearchParams;
}

export interface WebhookRequest extends WebhookCredentials {
  body: Uint8Array;
}

export interface WebhookAuthenticator {
  readonly mode: WebhookAuthMode;
  /**
   * A refusal decided by the headers and query alone, before the body is read (`secret`: the secret is
   * missing or wrong), or undefined: the body is then read and `authenticate` decides.
   */
  refuseEarly(req: WebhookCredentials): Refusal | undefined;
  /** The Canvas message inside an authentic delivery, or why it was refused (answered with 401). */
  authenticate(req: WebhookRequest): Promise<AuthResult>;
}

/** The bytes as a message: their text when they are UTF-8, else '' (never decoded with replacement characters). */
export function messageOf(bytes: Uint8Array): { ok: true; text: string; bytes: Uint8Array } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { ok: true, text: isUtf8(buffer) ? buffer.toString('utf8') : '', bytes };
}

/** An error of the JWKS (fetching or choosing a key): our side's, unlike an error of the token. */
class JwksFailure extends Error {
  constructor(readonly inner: unknown) {
    super('JWKS failure');
  }
}

export function webhookAuthenticator(
  settings: WebhookAuthSettings,
  options: { jwks?: JWTVerifyGetKey; cooldownMs?: number } = {},
): WebhookAuthenticator {
  switch (settings.mode) {
    case 'none':
      return { mode: 'none', refuseEarly: () => undefined, authenticate: async (req) => messageOf(req.body) };
    case 'secret': {
      // Compare digests: constant time whatever the lengths of the two strings.
      const expected = createHash('sha256').update(settings.secret).digest();
      const check = (req: WebhookCredentials): Refusal | undefined => {
        const header = req.headers['x-gradestream-secret'];
        const given = (Array.isArray(header) ? header[0] : header) ?? req.query.get('secret');
        if (given === null || given === undefined) return { ok: false, why: 'no webhook secret given' };
        const digest = createHash('sha256').update(given).digest();
        return timingSafeEqual(digest, expected) ? undefined : { ok: false, why: 'wrong webhook secret' };
      };
      return {
        mode: 'secret',
        refuseEarly: check,
        authenticate: async (req) => check(req) ?? messageOf(req.body),
      };
    }
    case 'jwt': {
      // After a fetch, jose does not fetch the JWKS again for the cooldown, whatever kid comes: a bound
      // on what a flood of made-up kids costs Canvas's JWKS endpoint.
      const cooldownMs = options.cooldownMs ?? JWKS_COOLDOWN_MS;
      const jwks = options.jwks ?? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: cooldownMs, timeoutDuration: 5_000 });
      // What fails in choosing the key is the JWKS's doing (ours); what fails elsewhere is the token's.
      const key: JWTVerifyGetKey = async (header, token) => {
        try {
          return await jwks(header, token);
        } catch (err) {
          throw new JwksFailure(err);
        }
      };
      return {
        mode: 'jwt',
        refuseEarly: () => undefined,
        authenticate: async (req) => {
          // A compact JWS is ASCII: any other byte makes it invalid, which jose says.
          const token = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength).toString('latin1').trim();
          // Fetched within the cooldown: a kid it lacks may be a key rotated in since, not checked yet.
          const cooling = (jwks as Partial<{ coolingDown: boolean }>).coolingDown === true;
          try {
            await jwtVerify(token, key, { algorithms: ['RS256'], issuer: settings.issuer });
          } catch (err) {
            if (!(err instanceof JwksFailure)) return { ok: false, why: describeJoseError(err), retryable: false };
            const inner = err.inner;
            if (inner instanceof joseErrors.JWKSNoMatchingKey) {
              // Refused (401) only once a fetch after the token came in lacks its key; until then the
              // sender retries (503), so an event signed with a key just rotated in is not lost.
              return cooling
                ? { ok: false, why: `no key of the JWKS (fetched within the last ${cooldownMs / 1000} s) matches the token; retry`, retryable: true }
                : { ok: false, why: describeJoseError(inner), retryable: false };
            }
            if (inner instanceof joseErrors.JWKSMultipleMatchingKeys) return { ok: false, why: describeJoseError(inner), retryable: false };
            // Our side cannot verify (JWKS down, bad JWKS): not the sender's fault, so let it retry.
            return { ok: false, why: describeJoseError(inner), retryable: true };
          }
          // The message is the signed payload's bytes as they are: rebuilding {metadata, body} from
          // the claims would mean a recursive stringify of the sender's value (a RangeError deep
          // enough). Intake reads metadata and body from it (the registered claims beside them are
          // ignored). Bytes that are not UTF-8 do not get here (jose 6 reads claims strictly: 401);
          // should they, intake quarantines them as invalid_utf8, keeping them.
          return messageOf(Buffer.from(token.split('.')[1]!, 'base64url'));
        },
      };
    }
  }
}

/** How long after a JWKS fetch an unknown kid waits for the next one (jose's cooldown). */
export const JWKS_COOLDOWN_MS = 5_000;

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys of the JWKS match the token';
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} rejected: ${err.reason}`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEError) return `${err.code}: ${err.message}`;
  return `JWKS unavailable: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`;
}
