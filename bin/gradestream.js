#!/usr/bin/env node
// The built CLI (npm install runs the build through "prepare").
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
