import { readFileSync } from 'node:fs';

/**
 * gradestream's version (`--version`, gradestream_build_info), read once from the nearest gradestream
 * package.json above this module: the repository's, the image's /app/package.json, or a test build's.
 */
export const VERSION: string = (() => {
  for (let up = '../'; up.length <= 5 * 3; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'gradestream' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return 'unknown';
})();
