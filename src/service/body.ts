import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';

/**
 * Request bodies of the API and the admin page's forms: a form (application/x-www-form-urlencoded), or
 * JSON under any other content type (as before Fastify: API clients send JSON as text/plain too),
 * parsed by Fastify's JSON parser, which refuses `__proto__` and `constructor.prototype` keys (400). An
 * empty body is no fields. Registered per plugin, with the plugin's body limit.
 */
export function formOrJsonBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    done(null, formFields(body as string));
  });
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if ((body as string).trim() === '') done(null, {});
    else json(request, body as string, done);
  });
}

/** A form's fields, the first value of each name, on an object without prototype. */
export function formFields(text: string): Record<string, string> {
  const fields = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(text)) if (!(name in fields)) fields[name] = value;
  return fields;
}

export const isForm = (request: FastifyRequest): boolean =>
  (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');

/**
 * A body's fields as strings: a form's, or a JSON object's whose values are strings, numbers or
 * booleans (anything else, or a body that is not an object, is a 400). No body: no fields.
 */
export function fieldsOf(body: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (body === undefined || body === null) return fields;
  if (typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object or a form');
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields.set(name, String(value));
    else throw new HttpError(400, `field ${JSON.stringify(name.slice(0, 100))}: expected a string, number or boolean`);
  }
  return fields;
}
