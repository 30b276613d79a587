import { benchIntake } from './intake.js';
import { benchReplay } from './replay.js';

/**
 * `npm run bench [section...]`: prints throughput side by side with a baseline measured in the same run.
 * Ratios, not absolute figures, are what carry from one machine to another.
 */
const sections: Record<string, () => Promise<void>> = {
  intake: () => benchIntake(),
  replay: () => benchReplay(),
  sources: () => import('./sources.js').then((m) => m.benchSources()),
  sync: () => import('./sync.js').then((m) => m.benchSync()),
};

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(sections)) {
  const run = sections[name];
  if (run === undefined) {
    console.error(`gradestream bench: unknown section ${name} (known: ${Object.keys(sections).join(', ')})`);
    process.exit(2);
  }
  await run();
}
