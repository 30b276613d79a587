#!/usr/bin/env node
// The built CLI (npm install runs the build through "prepare").
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command that failed (a service that could not start, say) may leave a client's timers or sockets
// behind: it ends anyway, soon, rather than lingering without doing anything.
if (code !== 0) setTimeout(() => process.exit(code), 2000).unref();
