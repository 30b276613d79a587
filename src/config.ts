import { IANAZone } from 'luxon';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { sinkUrlProblem } from './sinks/url.js';

/**
 * Configuration (SPEC §7.2), parsed once at start from the environment with command-line flags
 * winning. An invalid configuration stops the process with every problem listed.
 */

const stateUrl = z
  .string()
  .refine((v) => v.startsWith('sqlite:') || /^postgres(ql)?:\/\//.test(v), 'expected sqlite:PATH or postgres://…');
// The sinks' own rule (src/sinks/url.ts): also names what is wrong, e.g. plain http:// to a remote host.
const sinkUrl = z.string().superRefine((v, ctx) => {
  const problem = sinkUrlProblem(v);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});
const zone = z.string().refine((v) => IANAZone.isValidZone(v), 'not an IANA time zone');
const optional = z.string().min(1).optional();

export const ConfigSchema = z.object({
  stateUrl: stateUrl.default('sqlite:./var/gradestream.db'),
  schedulesFile: optional,
  sinkUrl: sinkUrl.default('file:./var/outbox'),
  timeZone: zone.default('UTC'),
  httpPort: z.coerce.number().int().min(0).max(65535).default(8080),
  sqsQueueUrl: z.string().url().optional(),
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
  kafkaSaslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  kafkaSaslUsername: optional,
  kafkaSaslPassword: optional,
  adminTokensFile: optional,
  webhookAuth: z.enum(['jwt', 'secret', 'none']).optional(),
  webhookJwksUrl: z.string().url().optional(),
  webhookIssuer: optional,
  webhookSecret: optional,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  logLevel: 'LOG_LEVEL',
};

const SECRET: ReadonlySet<keyof Config> = new Set(['webhookSecret', 'kafkaSaslPassword']);

/** Reads the configuration: `flags` (already named as Config keys) win over `env`. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<keyof Config, string | undefined>> = {},
): Config {
  const input: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV) as [keyof Config, string][]) {
    const value = flags[key] ?? env[name];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path[0] as keyof Config | undefined;
        // Secrets are never echoed, even in an error.
        const shown = key === undefined || SECRET.has(key) ? '' : ` (${JSON.stringify(input[key])})`;
        const where = key === undefined ? 'configuration' : `${ENV[key]}${shown}`;
        return `${where}: ${issue.message}`;
      }),
    );
  }
  const sasl = [parsed.data.kafkaSaslMechanism, parsed.data.kafkaSaslUsername, parsed.data.kafkaSaslPassword];
  if (sasl.some((v) => v !== undefined) && sasl.some((v) => v === undefined)) {
    throw new ConfigError([
      `${ENV.kafkaSaslMechanism}, ${ENV.kafkaSaslUsername} and ${ENV.kafkaSaslPassword}: set all three for SASL, or none`,
    ]);
  }
  return parsed.data;
}

/** The environment variable behind each setting, for messages and the README. */
export const environmentNames = ENV;
