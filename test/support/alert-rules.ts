import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;

/** A tool's path from the environment scripts/test.sh sets up; a missing one fails the test, naming it. */
export function tool(variable: 'GRADESTREAM_HELM' | 'GRADESTREAM_PROMTOOL' | 'GRADESTREAM_PROMETHEUS', what: string): string {
  const path = process.env[variable];
  if (!path) throw new Error(`${variable} is not set: ${what} is needed (scripts/test.sh sets it up; see scripts/tools.sh and scripts/helm.sh)`);
  return path;
}

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RenderedRule {
  /** the PrometheusRule object as rendered */
  object: { metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { groups: { name: string; rules: AlertRule[] }[] } };
  /** its spec as a Prometheus rule file (`groups:`), what promtool and Prometheus read */
  ruleFile: string;
  rules: AlertRule[];
}

/** The chart's PrometheusRule rendered by the real helm (release t, namespace default), `--set`s applied. */
export async function renderPrometheusRule(...set: string[]): Promise<RenderedRule> {
  const helm = tool('GRADESTREAM_HELM', 'helm');
  const args = ['template', 't', 'helm/gradestream', '--set', 'prometheusRule.enabled=true', ...set.flatMap((s) => ['--set', s])];
  const { stdout } = await promisify(execFile)(helm, [...args, '--show-only', 'templates/prometheusrule.yaml'], { cwd: root });
  const docs = parseAllDocuments(stdout).map((d) => d.toJS() as unknown);
  if (docs.length !== 1) throw new Error(`expected one document, got ${docs.length}`);
  const object = docs[0] as RenderedRule['object'];
  return { object, ruleFile: stringify(object.spec), rules: object.spec.groups.flatMap((g) => g.rules) };
}

/** Runs a command, resolving with its exit code and output whatever the code. */
export async function run(file: string, args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  return promisify(execFile)(file, args, { cwd }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code?: number | string; stdout?: string; stderr?: string; message: string }) => ({
      code: typeof err.code === 'number' ? err.code : -1,
      out: `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message,
    }),
  );
}
