// Makes the JSON schemas kubeconform validates the chart against (scripts/kubeconform.sh runs it):
//   node scripts/kubeconform-schemas.mjs RAW_DIR OUT_DIR CRD.yaml...
// RAW_DIR holds kubernetes-validate's strict schemas of one Kubernetes release; they name each other by
// absolute ids (https://kubernetes.io/api/_definitions.json), which kubeconform would try to fetch, so
// the ids are dropped and the references made relative to the file: OUT_DIR/kubernetes/.
// Each CRD's versions become OUT_DIR/crds/GROUP/KIND_VERSION.json the way kubeconform's
// openapi2jsonschema.py makes them (int-or-string as a union, nullable as a null type), strict: every
// object that lists its properties refuses others unless it keeps unknown fields on purpose.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const [raw, out, ...crds] = process.argv.slice(2);
if (!raw || !out || crds.length === 0) {
  console.error('usage: node scripts/kubeconform-schemas.mjs RAW_DIR OUT_DIR CRD.yaml...');
  process.exit(2);
}

mkdirSync(join(out, 'kubernetes'), { recursive: true });
let kinds = 0;
for (const name of readdirSync(raw)) {
  if (!name.endsWith('.json')) continue;
  const schema = JSON.parse(readFileSync(join(raw, name), 'utf8'));
  delete schema.$id;
  const text = JSON.stringify(schema).replaceAll('"/api/_definitions.json#', '"_definitions.json#');
  if (text.includes('"$ref":"/')) throw new Error(`${name}: a reference this script does not know how to make local`);
  writeFileSync(join(out, 'kubernetes', name), text);
  kinds++;
}
if (kinds < 100) throw new Error(`${raw}: only ${kinds} schemas`);

function strict(node) {
  if (Array.isArray(node)) return node.map((n) => strict(n));
  if (node === null || typeof node !== 'object') return node;
  if (node['x-kubernetes-int-or-string'] === true || node.format === 'int-or-string') {
    return { ...(node.description ? { description: node.description } : {}), anyOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties') copy[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strict(v)]));
    else if (key === 'nullable') continue;
    else copy[key] = strict(value);
  }
  if (node.nullable === true && typeof copy.type === 'string') copy.type = [copy.type, 'null'];
  const preserves = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (copy.properties && !('additionalProperties' in copy) && !preserves) copy.additionalProperties = false;
  return copy;
}

let versions = 0;
for (const file of crds) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const { group, names } = crd.spec;
    mkdirSync(join(out, 'crds', group), { recursive: true });
    for (const v of crd.spec.versions) {
      const schema = v.schema?.openAPIV3Schema;
      if (!schema) throw new Error(`${file}: ${names.kind} ${v.name} has no openAPIV3Schema`);
      writeFileSync(join(out, 'crds', group, `${names.kind.toLowerCase()}_${v.name}.json`), JSON.stringify(strict(schema)));
      versions++;
    }
  }
}
if (versions === 0) throw new Error(`no CustomResourceDefinition in ${crds.join(', ')}`);
console.error(`kubeconform schemas: ${kinds} Kubernetes, ${versions} CRD versions in ${out}`);
