import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

/** The chart under test. */
export const CHART = 'helm/gradestream';

/** A tool the chart tests need, from the variable scripts/test.sh sets (never skipped when missing). */
export function tool(variable: string, script: string): string {
  const path = process.env[variable];
  if (!path) throw new Error(`${variable} is not set: run the suite with \`npm test\` (${script} provides it)`);
  return path;
}

export type Rendered = { ok: true; docs: any[]; stdout: string } | { ok: false; error: string };

/** `helm ARGS…` (template by default), its documents parsed, or its error. */
export async function helm(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Rendered> {
  try {
    const { stdout } = await promisify(execFile)(tool('GRADESTREAM_HELM', 'scripts/helm.sh'), args, { env, maxBuffer: 64 << 20 });
    return { ok: true, stdout, docs: parseAllDocuments(stdout).map((d) => d.toJS()).filter(Boolean) };
  } catch (err) {
    return { ok: false, error: String((err as { stderr?: string }).stderr || err) };
  }
}

/** `helm template t CHART` with `--set` for each of `set`. */
export function template(...set: string[]): Promise<Rendered> {
  return helm(['template', 't', CHART, ...set.flatMap((s) => ['--set', s])]);
}

/** The rendered documents, or the render's error thrown. */
export function docsOf(r: Rendered): any[] {
  if (!r.ok) throw new Error(r.error);
  return r.docs;
}

/** The one document of `kind` (and name, when given). */
export function one(docs: any[], kind: string, name?: string): any {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}
