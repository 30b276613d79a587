import { DateTime } from 'luxon';
import { intakeText } from '../src/intake/index.js';
import { parseInstant } from '../src/intake/timestamps.js';
import { generateEvents } from './generate.js';
import { compare, printTable } from './measure.js';

/** Intake (decode + classify + validate + normalise) against JSON.parse alone, on the same messages. */
export async function benchIntake(count = 50_000): Promise<void> {
  const messages = [...generateEvents({ count })];
  let sink = 0; // keeps the work observable so it is not optimised away
  const results = await compare([
    {
      name: 'JSON.parse alone',
      run: () => {
        for (const m of messages) sink += (JSON.parse(m) as { body: object }).body ? 1 : 0;
        return messages.length;
      },
    },
    {
      name: 'intake (parse + validate + normalise)',
      run: () => {
        for (const m of messages) sink += intakeText(m).outcome === 'valid' ? 1 : 0;
        return messages.length;
      },
    },
  ]);
  printTable(`Intake, ${count.toLocaleString('en-US')} generated events (target ratio >= 0.50)`, results, 'JSON.parse alone');

  const stamps = messages.slice(0, 20_000).map((m) => (JSON.parse(m) as { metadata: { event_time: string } }).metadata.event_time);
  const stampResults = await compare([
    { name: 'luxon DateTime.fromISO', run: () => { for (const s of stamps) sink += DateTime.fromISO(s, { setZone: true }).toMillis() & 1; return stamps.length; } },
    { name: 'parseInstant (strict fast path)', run: () => { for (const s of stamps) sink += parseInstant(s, 't') & 1; return stamps.length; } },
  ]);
  printTable('Timestamp parsing', stampResults, 'luxon DateTime.fromISO', 'stamps/s');
  if (sink === -1) console.log(sink);
}
