import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { CHART, docsOf, helm } from './helm.js';

export { tool } from './helm.js';

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
  const args = ['template', 't', CHART, '--set', 'prometheusRule.enabled=true', ...set.flatMap((s) => ['--set', s])];
  const docs = docsOf(await helm([...args, '--show-only', 'templates/prometheusrule.yaml']));
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
