import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../log.js';
import { checkSessionWrite, CSRF_FIELD, fromHere, SESSION_COOKIE, setSessionCookie, type AuthDeps } from './auth.js';
import { formFields } from './body.js';
import { HttpError } from './http-error.js';
import { LOGIN_BODY_LIMIT, SIGN_IN_LIMIT } from './limits.js';
import { sendHtml, signIn } from './page.js';
import { answerError, closeIfBodyUnread } from './server.js';

/**
 * `POST /login` and `POST /logout` of the admin page. Signing in: at most SIGN_IN_LIMIT attempts per
 * client address (429 beyond), only from this site's own page (Origin or Referer: no login CSRF), a
 * failure logged (warn, with the client address, never the token); it opens a session in the store
 * (src/service/sessions.ts). Signing out ends the session in the store, not only in the browser.
 */
export const signInRoutes =
  (deps: AuthDeps & { log: Logger }): FastifyPluginAsync =>
  async (app) => {
    const { log, sessions, tokens } = deps;
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: () => new HttpError(429, 'Too many sign-in attempts from your address: wait a minute and try again.'),
      onExceeded: (request) => log.warn({ ip: request.ip }, 'sign-in attempts over the limit'),
    });
    // The form's fields, whatever the content type says (as before: the token field is all there is).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: LOGIN_BODY_LIMIT }, (_request, body, done) => done(null, formFields(body as string)));
    // Refusals are shown on the sign-in page.
    app.setErrorHandler((err, request, reply) => {
      if (!(err instanceof HttpError) || err.status >= 500) return answerError(err, request, reply, log);
      closeIfBodyUnread(request, reply);
      return sendHtml(reply.headers(err.headers), err.status, signIn(err.message));
    });
    const fields = (body: unknown): Record<string, string> => (body !== null && typeof body === 'object' ? (body as Record<string, string>) : {});

    app.post(
      '/login',
      {
        bodyLimit: LOGIN_BODY_LIMIT,
        config: { rateLimit: { max: SIGN_IN_LIMIT.max, timeWindow: SIGN_IN_LIMIT.windowMs } },
        // After the rate limit (an onRequest hook), before the body is read.
        preParsing: async (request) => {
          if (!fromHere(request, deps.publicUrl)) throw new HttpError(403, 'Sign in from this site’s own page.');
        },
      },
      async (request, reply) => {
        const who = tokens.identify(fields(request.body)['token'] ?? '');
        if (who === undefined) {
          log.warn({ ip: request.ip }, 'sign-in failed: not a valid token');
          return sendHtml(reply, 401, signIn('That token is not valid.'));
        }
        const cookie = await sessions.create(who);
        log.info({ name: who.name, ip: request.ip }, 'signed in');
        setSessionCookie(request, reply, cookie, Math.floor(sessions.ttlMs / 1000), deps.publicUrl);
        return reply.code(303).header('location', '/').send();
      },
    );

    app.post('/logout', { bodyLimit: LOGIN_BODY_LIMIT }, async (request, reply) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie !== undefined && cookie !== '') {
        const session = await sessions.resolve(cookie, tokens);
        // A live session ends only by its own page's form; one already over is just removed.
        if (session !== undefined) checkSessionWrite(request, { who: session.who, session }, deps, fields(request.body)[CSRF_FIELD]);
        await sessions.end(cookie);
      }
      setSessionCookie(request, reply, '', 0, deps.publicUrl);
      return reply.code(303).header('location', '/').send();
    });
  };
