import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DateTime } from 'luxon';
import type { AdminBackend } from './api.js';
import { callerOf, CSRF_FIELD, type AuthDeps } from './auth.js';

/**
 * The admin page (SPEC §7.3), modelled on Canvas's SIS grade sync screen: a schedules table (Hour of
 * Day, Next Run, Status, Posted By, Actions) and the sync history. Server-rendered, no script: the
 * action buttons are forms posting to the API with the session cookie (HttpOnly, SameSite=Strict), each
 * with the session's CSRF token. Signing in and out: src/service/signin.ts.
 */

/** A schedule as the page shows it: what `AdminBackend.listSchedules` returns. */
export interface ScheduleRow {
  id: string;
  hourOfDay: number;
  timeZone: string;
  next_run: string | null;
  status: string;
  postedBy: string;
}

export interface RunRow {
  id: string;
  schedule: string;
  trigger: string;
  triggered_by: string;
  started_at: string | null;
  finished_at: string | null;
  status: string;
  rows: number;
  /** Held rows by reason as the run left them. */
  held?: Record<string, number> | null;
  /** Where the batch went (file path or URL). */
  batch?: string | null;
  error?: string | null;
}

const heldText = (held: Record<string, number> | null | undefined): string =>
  held == null ? '' : Object.entries(held).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(', ');

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const hour = (h: number) => `${String(h).padStart(2, '0')}:00`;

function local(iso: string | null, zone: string): string {
  if (iso === null) return '—';
  return DateTime.fromISO(iso, { zone }).toFormat('yyyy-LL-dd HH:mm ZZZZ');
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:2rem}
th,td{border-bottom:1px solid #ddd;padding:.4rem .8rem;text-align:left}th{background:#f4f4f4}
form.inline{display:inline}button{margin-right:.3rem}.failed{color:#b00}.suspended{color:#a60}
</style></head><body>${body}</body></html>`;
}

export function signIn(message = ''): string {
  return layout('gradestream — sign in', `<h1>gradestream</h1>
${message ? `<p class="failed">${esc(message)}</p>` : ''}
<form method="post" action="/login"><label>Token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`);
}

function dashboard(who: { name: string; role: string }, csrf: string, schedules: ScheduleRow[], runs: RunRow[]): string {
  const admin = who.role === 'admin';
  // Every form carries the session's CSRF token (none when signed in with a bearer token: forms cannot send it).
  const token = csrf === '' ? '' : `<input type="hidden" name="${CSRF_FIELD}" value="${esc(csrf)}">`;
  const action = (id: string, verb: string, label: string) =>
    // The accessible name says which schedule: every row has the same buttons.
    `<form class="inline" method="post" action="/api/schedules/${encodeURIComponent(id)}/${verb}">${token}<button type="submit" aria-label="${esc(`${label}: ${id}`)}">${label}</button></form>`;
  const scheduleRows = schedules
    .map(
      (s) => `<tr><td>${esc(s.id)}</td><td>${hour(s.hourOfDay)} ${esc(s.timeZone)}</td><td>${esc(local(s.next_run, s.timeZone))}</td>
<td class="${esc(s.status)}">${s.status === 'suspended' ? 'Suspended' : 'Enabled'}</td><td>${esc(s.postedBy)}</td>
<td>${admin ? action(s.id, 'run', 'Run this schedule now') + (s.status === 'suspended' ? action(s.id, 'resume', 'Resume') : action(s.id, 'pause', 'Pause')) : ''}</td></tr>`,
    )
    .join('\n');
  const runRows = runs
    .map(
      (r) => `<tr><td>${esc(r.id)}</td><td>${esc(r.schedule)}</td><td>${esc(r.trigger)}</td><td>${esc(r.triggered_by)}</td>
<td>${esc(r.started_at ?? '')}</td><td>${esc(r.finished_at ?? '')}</td><td class="${esc(r.status)}">${esc(r.status)}</td><td>${esc(r.rows)}</td>
<td>${esc(heldText(r.held))}</td><td>${esc(r.batch ?? '')}</td><td>${esc(r.error ?? '')}</td></tr>`,
    )
    .join('\n');
  return layout('gradestream — grade sync', `<h1>Grade Sync</h1>
<p>Signed in as ${esc(who.name)} (${esc(who.role)}). <form class="inline" method="post" action="/logout">${token}<button type="submit">Sign out</button></form></p>
<h2>Schedules</h2>
<table id="schedules"><thead><tr><th>Schedule</th><th>Hour of Day</th><th>Next Run</th><th>Status</th><th>Posted By</th><th>Actions</th></tr></thead>
<tbody>${scheduleRows}</tbody></table>
<h2>Sync history</h2>
<table id="history"><thead><tr><th>Run</th><th>Schedule</th><th>Trigger</th><th>Triggered by</th><th>Started</th><th>Finished</th><th>Status</th><th>Rows</th><th>Held</th><th>Batch</th><th>Error</th></tr></thead>
<tbody>${runRows}</tbody></table>`);
}

/**
 * An HTML answer with the page's headers: no script at all, the one inline style sheet, forms post
 * only here, never framed (clickjacking). Referrer-Policy same-origin, not no-referrer: under
 * no-referrer a browser sends `Origin: null` with the page's form posts, and the Origin is what shows
 * that they come from the page (CSRF); no address leaves for another site either way.
 */
export function sendHtml(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .headers({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'x-frame-options': 'DENY',
      'referrer-policy': 'same-origin',
      'x-content-type-options': 'nosniff',
    })
    .send(body);
}

/** `GET /`: the sign-in form, or the page of the signed-in caller. */
export const pageRoutes =
  (deps: AuthDeps & { backend: AdminBackend }): FastifyPluginAsync =>
  async (app) => {
    app.get('/', async (request, reply) => {
      const caller = await callerOf(request, deps);
      if (caller === undefined) {
        return sendHtml(reply, 200, signIn(deps.tokens.size === 0 ? 'No tokens are configured (GRADESTREAM_ADMIN_TOKENS_FILE).' : ''));
      }
      const [schedules, runs] = await Promise.all([deps.backend.listSchedules(), deps.backend.listRuns(50)]);
      return sendHtml(reply, 200, dashboard(caller.who, caller.session?.csrf ?? '', schedules as ScheduleRow[], runs as RunRow[]));
    });
  };
