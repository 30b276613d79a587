// Prints vitest's totals from its JSON reports (one per runtime the suite ran on) as one plain line:
// "N passed, N failed[, N skipped]", summed over the reports.
import { readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['var/test-results.json'];
const sum = { passed: 0, failed: 0, skipped: 0 };
let missing = false;
for (const file of files) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    sum.passed += report.numPassedTests;
    sum.failed += report.numFailedTests;
    sum.skipped += report.numPendingTests + report.numTodoTests;
  } catch (err) {
    console.error(`totals: no vitest report at ${file} (${err.code ?? err.message}): that test run did not finish`);
    missing = true;
  }
}
if (missing && sum.passed + sum.failed + sum.skipped === 0) {
  console.log('totals: no vitest report: the test run did not finish');
  process.exit(1);
}
console.log(`${sum.passed} passed, ${sum.failed} failed${sum.skipped > 0 ? `, ${sum.skipped} skipped` : ''}`);
process.exit(missing ? 1 : 0);
