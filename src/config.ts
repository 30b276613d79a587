import { isIP } from 'node:net';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { sinkUrlProblem } from './sinks/url.js';

/**
 * Configuration (SPEC §7.2), parsed once at start from the environment with command-line flags
 * winning. An invalid configuration stops the process with every problem listed.
 */

const stateUrl = z.string().superRefine((v, ctx) => {
  if (v === 'sqlite:') ctx.addIssue({ code: 'custom', message: 'sqlite: needs a path (sqlite:PATH)' });
  else if (!v.startsWith('sqlite:') && !/^postgres(ql)?:\/\//.test(v)) ctx.addIssue({ code: 'custom', message: 'expected sqlite:PATH or postgres://…' });
});
// The sinks' own rule (src/sinks/url.ts): also names what is wrong, e.g. plain http:// to a remote host.
const sinkUrl = z.string().superRefine((v, ctx) => {
  const problem = sinkUrlProblem(v);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
const zone = z.string().refine((v) => IANAZone.isValidZone(v), 'not an IANA time zone');
// The address users reach the service at: an http(s) origin (a path is allowed and ignored).
const publicUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
});
// Proxies whose X-Forwarded-For is believed: IP addresses or CIDR blocks, comma-separated.
const proxies = z
  .string()
  .transform((v) => v.split(',').map((p) => p.trim()).filter((p) => p !== ''))
  .superRefine((list, ctx) => {
    for (const p of list) {
      const [address, bits, ...rest] = p.split('/');
      const family = isIP(address ?? '');
      const max = family === 6 ? 128 : 32;
      if (family === 0 || rest.length > 0 || (bits !== undefined && !(/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max))) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is not an IP address or CIDR block` });
      }
    }
  });
const optional = z.string().min(1).optional();
// Whole numbers from flags and variables, with a message a person can act on (zod's own would say
// "expected number, received NaN").
const wholeNumber = (max: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]{1,15}$/, what)
    .transform(Number)
    .refine((n) => n <= max, what);
const oneOf = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { message: `expected one of ${values.join(', ')}` });

export const ConfigSchema = z.object({
  stateUrl: stateUrl.default('sqlite:./var/gradestream.db'),
  schedulesFile: optional,
  sinkUrl: sinkUrl.default('file:./var/outbox'),
  timeZone: zone.default('UTC'),
  httpPort: wholeNumber(65535, 'not a port number (0 to 65535)').default(8080),
  sqsQueueUrl: z.string().url('expected a URL').optional(),
  kafkaBrokers: z
    .string()
    .transform((v) => v.split(',').map((b) => b.trim()).filter((b) => b !== ''))
    .optional(),
  kafkaTopics: z
    .string()
    .transform((v) => v.split(',').map((t) => t.trim()).filter((t) => t !== ''))
    .optional(),
  kafkaGroupId: z.string().min(1).default('gradestream'),
  // Optional: quarantined Kafka records are also produced to this topic (README "Sources").
  kafkaDlqTopic: optional,
  kafkaSsl: z
    .enum(['true', 'false'], { message: 'expected true or false' })
    .transform((v) => v === 'true')
    .optional(),
  kafkaSaslMechanism: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  kafkaSaslUsername: optional,
  kafkaSaslPassword: optional,
  adminTokensFile: optional,
  webhookAuth: oneOf(['jwt', 'secret', 'none']).optional(),
  webhookJwksUrl: z.string().url('expected a URL').optional(),
  webhookIssuer: optional,
  webhookSecret: optional,
  // Signs admin page sessions; unset: a secret generated once is kept in the state store.
  sessionSecret: z.string().min(32, 'at least 32 characters').optional(),
  publicUrl: publicUrl.optional(),
  trustedProxies: proxies.optional(),
  // Reconciliation with Canvas's REST API (SPEC §8): the token is never a flag and never echoed.
  canvasToken: optional,
  canvasUrl: z.string().url('expected a URL').optional(),
  canvasShard: z.string().regex(/^[1-9][0-9]{0,5}$/, 'a Canvas shard number (a positive integer)').optional(),
  // An event instant further ahead of receipt than this is quarantined (future_timestamp): a bad clock must not pin a key.
  maxFutureSeconds: wholeNumber(Number.MAX_SAFE_INTEGER, 'not a whole number of seconds (0 or more)').default(86_400),
  logLevel: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  logFormat: oneOf(['pino', 'iso']).default('pino'),
});

export type Config = z.infer<typeof ConfigSchema>;

const ENV: Record<keyof Config, string> = {
  stateUrl: 'GRADESTREAM_STATE_URL',
  schedulesFile: 'GRADESTREAM_SCHEDULES_FILE',
  sinkUrl: 'GRADESTREAM_SINK_URL',
  timeZone: 'GRADESTREAM_TIME_ZONE',
  httpPort: 'GRADESTREAM_HTTP_PORT',
  sqsQueueUrl: 'GRADESTREAM_SQS_QUEUE_URL',
  kafkaBrokers: 'GRADESTREAM_KAFKA_BROKERS',
  kafkaTopics: 'GRADESTREAM_KAFKA_TOPICS',
  kafkaGroupId: 'GRADESTREAM_KAFKA_GROUP_ID',
  kafkaDlqTopic: 'GRADESTREAM_KAFKA_DLQ_TOPIC',
  kafkaSsl: 'GRADESTREAM_KAFKA_SSL',
  kafkaSaslMechanism: 'GRADESTREAM_KAFKA_SASL_MECHANISM',
  kafkaSaslUsername: 'GRADESTREAM_KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'GRADESTREAM_KAFKA_SASL_PASSWORD',
  adminTokensFile: 'GRADESTREAM_ADMIN_TOKENS_FILE',
  webhookAuth: 'GRADESTREAM_WEBHOOK_AUTH',
  webhookJwksUrl: 'GRADESTREAM_WEBHOOK_JWKS_URL',
  webhookIssuer: 'GRADESTREAM_WEBHOOK_ISSUER',
  webhookSecret: 'GRADESTREAM_WEBHOOK_SECRET',
  sessionSecret: 'GRADESTREAM_SESSION_SECRET',
  publicUrl: 'GRADESTREAM_PUBLIC_URL',
  trustedProxies: 'GRADESTREAM_TRUSTED_PROXIES',
  canvasToken: 'GRADESTREAM_CANVAS_TOKEN',
  canvasUrl: 'GRADESTREAM_CANVAS_URL',
  canvasShard: 'GRADESTREAM_CANVAS_SHARD',
  maxFutureSeconds: 'GRADESTREAM_MAX_FUTURE_SECONDS',
  logLevel: 'LOG_LEVEL',
  logFormat: 'GRADESTREAM_LOG_FORMAT',
};

const SECRET: ReadonlySet<keyof Config> = new Set(['webhookSecret', 'kafkaSaslPassword', 'sessionSecret', 'canvasToken']);

/** The command-line flag of each setting that has one (SPEC §7.1's shared options, and `run --port`). */
const FLAG: Partial<Record<keyof Config, string>> = {
  stateUrl: '--state',
  schedulesFile: '--schedules',
  sinkUrl: '--sink',
  httpPort: '--port',
  canvasShard: '--canvas-shard',
  canvasUrl: '--canvas-url',
};

export type ConfigFlags = Partial<Record<keyof Config, string | undefined>>;

/**
 * The settings as given — `flags` (already named as Config keys) win over `env` — parsed: the
 * configuration, or every problem — each setting's own, then the rules between settings (Kafka,
 * SASL, webhook authentication), named by the flag or variable the value came from — with the
 * settings that are valid (`run` reads the files they name, to list those files' problems too).
 */
export function readSettings(
  env: NodeJS.ProcessEnv = process.env,
  flags: ConfigFlags = {},
): { ok: true; config: Config } | { ok: false; problems: string[]; valid: Partial<Config> } {
  const input: Record<string, string> = {};
  const fromFlag = new Set<keyof Config>();
  for (const [key, name] of Object.entries(ENV) as [keyof Config, string][]) {
    const flag = flags[key];
    if (flag !== undefined && flag !== '') fromFlag.add(key);
    const value = flag ?? env[name];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = ConfigSchema.safeParse(input);
  if (parsed.success) {
    const problems = crossProblems(parsed.data);
    return problems.length === 0 ? { ok: true, config: parsed.data } : { ok: false, problems, valid: parsed.data };
  }
  // The rules between settings are checked on what did parse, so that their problems are listed too.
  const valid: Record<string, unknown> = {};
  const bad = new Set(parsed.error.issues.map((i) => i.path[0]));
  for (const [key, field] of Object.entries(ConfigSchema.shape)) {
    if (bad.has(key)) continue;
    const one = field.safeParse(input[key]);
    if (one.success) valid[key] = one.data;
  }
  const problems = parsed.error.issues.map((issue) => {
    const key = issue.path[0] as keyof Config | undefined;
    // Secrets are never echoed, even in an error.
    const shown = key === undefined || SECRET.has(key) ? '' : ` (${JSON.stringify(input[key])})`;
    const where = key === undefined ? 'configuration' : `${fromFlag.has(key) ? FLAG[key]! : ENV[key]}${shown}`;
    return `${where}: ${issue.message}`;
  });
  return { ok: false, problems: [...problems, ...crossProblems(valid as Partial<Config>)], valid: valid as Partial<Config> };
}

/** The configuration (readSettings), or a ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): Config {
  const settings = readSettings(env, flags);
  if (!settings.ok) throw new ConfigError(settings.problems);
  return settings.config;
}

/** The rules between settings. */
function crossProblems(c: Partial<Config>): string[] {
  const problems = kafkaProblems(c);
  const sasl = [c.kafkaSaslMechanism, c.kafkaSaslUsername, c.kafkaSaslPassword];
  if (sasl.some((v) => v !== undefined) && sasl.some((v) => v === undefined)) {
    problems.push(`${ENV.kafkaSaslMechanism}, ${ENV.kafkaSaslUsername} and ${ENV.kafkaSaslPassword}: set all three for SASL, or none`);
  }
  const auth = webhookAuthSettings(c);
  if ('problems' in auth) problems.push(...auth.problems);
  return problems;
}

/** Kafka is read when both brokers and topics are set; one without the other is a mistake. */
export function kafkaProblems(c: Pick<Partial<Config>, 'kafkaBrokers' | 'kafkaTopics' | 'kafkaDlqTopic'>): string[] {
  const brokers = c.kafkaBrokers ?? [];
  const topics = c.kafkaTopics ?? [];
  const problems: string[] = [];
  if (brokers.length === 0 && topics.length > 0) problems.push(`${ENV.kafkaBrokers}: required when ${ENV.kafkaTopics} is set`);
  if (topics.length === 0 && brokers.length > 0) problems.push(`${ENV.kafkaTopics}: required when ${ENV.kafkaBrokers} is set`);
  if (c.kafkaDlqTopic !== undefined && topics.includes(c.kafkaDlqTopic)) {
    problems.push(`${ENV.kafkaDlqTopic}: must not be one of the topics read`);
  }
  return problems;
}

export type WebhookAuthMode = 'jwt' | 'secret' | 'none';

export type WebhookAuthSettings =
  | { mode: 'jwt'; jwksUrl: string; issuer: string }
  | { mode: 'secret'; secret: string }
  | { mode: 'none' };

/**
 * The webhook's authentication mode and its settings, with the defaults SPEC §1.1 gives (jwt when a
 * JWKS URL is set, else secret when a secret is, else none), or what the mode lacks.
 */
export function webhookAuthSettings(
  c: Pick<Partial<Config>, 'webhookAuth' | 'webhookJwksUrl' | 'webhookIssuer' | 'webhookSecret'>,
): WebhookAuthSettings | { problems: string[] } {
  const mode: WebhookAuthMode = c.webhookAuth ?? (c.webhookJwksUrl ? 'jwt' : c.webhookSecret ? 'secret' : 'none');
  if (mode === 'jwt') {
    const problems: string[] = [];
    if (!c.webhookJwksUrl) problems.push(`${ENV.webhookAuth}=jwt needs ${ENV.webhookJwksUrl}`);
    if (!c.webhookIssuer) problems.push(`${ENV.webhookAuth}=jwt needs ${ENV.webhookIssuer}`);
    return problems.length > 0 ? { problems } : { mode, jwksUrl: c.webhookJwksUrl!, issuer: c.webhookIssuer! };
  }
  if (mode === 'secret') {
    return c.webhookSecret ? { mode, secret: c.webhookSecret } : { problems: [`${ENV.webhookAuth}=secret needs ${ENV.webhookSecret}`] };
  }
  return { mode };
}

/** The environment variable behind each setting, for messages and the README. */
export const environmentNames = ENV;
