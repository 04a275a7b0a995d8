#!/usr/bin/env node
// Writes the OpenAPI document of the built service (dist/, so `npm run build` first), with no
// server or database: `node scripts/openapi.mjs` to stdout, `node scripts/openapi.mjs FILE` to a file.
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../dist/http/openapi-document.js';

const [out] = process.argv.slice(2);
const text = `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
if (out) writeFileSync(out, text);
else process.stdout.write(text);
