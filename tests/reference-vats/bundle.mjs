// Bundles vat sources into the reference bundle format (spec §7.1) the way ocap-kernel's
// `ocap bundle` does at its pinned versions: vite's library build, IIFE format, exports assigned
// to `__vatExports__`, no minification, one chunk; dynamic `import('x')` of a literal replaced by
// `Promise.resolve({})`, `process.env.NODE_ENV` inlined as "production", every comment removed
// from the output (SES refuses `import(` even in a comment); the bundle is
// `{moduleFormat: "iife", code, exports, external}` as JSON.
//
// Written for ocapd's tests (not taken from ocap-kernel): it exists to prove that bundles made
// with the reference's toolchain and package versions run on ocapd.
//
//   node bundle.mjs OUT_DIR SOURCE.js...     writes OUT_DIR/<name>.bundle for each source

import { parse } from 'acorn';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { build } from 'vite';

/** A rolldown transform: `import('literal')` becomes `Promise.resolve({})` (IIFE forbids it). */
const dropLiteralDynamicImports = {
  name: 'ocap-test:drop-literal-dynamic-imports',
  transform(code) {
    if (!/\bimport\s*\(/u.test(code)) {
      return null;
    }
    const replaced = code.replace(
      /\bimport\s*\(\s*(['"`])[^'"`]+\1\s*\)/gu,
      'Promise.resolve({})',
    );
    return replaced === code ? null : { code: replaced, map: null };
  },
};

/** A rolldown transform: `process.env.NODE_ENV` becomes the string "production". */
const inlineNodeEnv = {
  name: 'ocap-test:inline-node-env',
  transform(code) {
    if (!code.includes('process.env.NODE_ENV')) {
      return null;
    }
    return {
      code: code.replace(/\bprocess\.env\.NODE_ENV\b/gu, '"production"'),
      map: null,
    };
  },
};

/** A render hook: the chunk without its comments, found by parsing it (acorn). */
const removeComments = {
  name: 'ocap-test:remove-comments',
  renderChunk(code) {
    const comments = [];
    parse(code, { ecmaVersion: 'latest', sourceType: 'script', onComment: comments });
    if (comments.length === 0) {
      return null;
    }
    const kept = [];
    let from = 0;
    for (const { start, end } of comments) {
      kept.push(code.slice(from, start));
      from = end;
    }
    kept.push(code.slice(from));
    return kept.join('');
  },
};

/** The bundle object for the vat at `source`. */
const bundleVat = async source => {
  let exportNames = [];
  const recordExports = {
    name: 'ocap-test:record-exports',
    generateBundle(_options, output) {
      for (const chunk of Object.values(output)) {
        if (chunk.type === 'chunk' && chunk.isEntry) {
          exportNames = chunk.exports;
        }
      }
    },
  };
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: false,
      lib: { entry: source, formats: ['iife'], name: '__vatExports__' },
      rolldownOptions: {
        output: { exports: 'named', codeSplitting: false },
        plugins: [dropLiteralDynamicImports, inlineNodeEnv, removeComments, recordExports],
      },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  const entry = outputs
    .flatMap(o => o.output)
    .find(item => item.type === 'chunk' && item.isEntry);
  if (!entry) {
    throw Error(`no entry chunk for ${source}`);
  }
  return { moduleFormat: 'iife', code: entry.code, exports: exportNames, external: [] };
};

const [outDir, ...sources] = process.argv.slice(2);
if (!outDir || sources.length === 0) {
  console.error('usage: node bundle.mjs OUT_DIR SOURCE.js...');
  process.exit(2);
}
await mkdir(outDir, { recursive: true });
// One at a time: rolldown's IIFE output is not safe across concurrent builds.
for (const source of sources) {
  const bundle = await bundleVat(resolve(source));
  const target = join(outDir, `${basename(source, extname(source))}.bundle`);
  await writeFile(target, JSON.stringify(bundle));
}
