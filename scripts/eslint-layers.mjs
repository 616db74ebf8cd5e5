/**
 * The layering rules as an ESLint rule, after VS Code's `code-layering`: each import is resolved against
 * the importing file, so `../main/…` from `contract/` and `./main` from `renderer/` (its entry, a
 * different folder) are told apart, which a pattern on the import text cannot do.
 *
 * Options: `{ layers: [{ files, forbid, reason }], packages: [{ name, onlyIn }] }`, every path a folder
 * prefix relative to the repository root ending in '/'.
 */
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));

/** Forward slashes and root-relative, so the prefixes read the same on every platform. */
const fromRoot = (file) => path.relative(root, file).split(path.sep).join('/');

/** A package's name from an import specifier ('electron/main' → 'electron'). */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

export const importBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep each layer to the folders and packages it may import' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: { type: 'array', items: { type: 'object' } },
          packages: { type: 'array', items: { type: 'object' } },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      folder: '{{file}} may not import {{target}}: {{reason}}',
      package: "'{{name}}' may only be imported under {{onlyIn}}",
    },
  },
  create(context) {
    const { layers = [], packages = [] } = context.options[0] ?? {};
    const file = fromRoot(context.filename);
    const ownLayers = layers.filter((layer) => layer.files.some((prefix) => file.startsWith(prefix)));
    const check = (node) => {
      const specifier = node?.value;
      if (typeof specifier !== 'string') return;
      if (specifier.startsWith('.')) {
        const target = fromRoot(path.resolve(path.dirname(context.filename), specifier));
        for (const layer of ownLayers) {
          const hit = layer.forbid.find((prefix) => target === prefix.slice(0, -1) || target.startsWith(prefix));
          if (hit) context.report({ node, messageId: 'folder', data: { file: layer.files.join(', '), target: hit, reason: layer.reason } });
        }
        return;
      }
      const name = packageOf(specifier);
      for (const rule of packages) {
        if (rule.name === name && !rule.onlyIn.some((prefix) => file.startsWith(prefix))) {
          context.report({ node, messageId: 'package', data: { name, onlyIn: rule.onlyIn.join(', ') } });
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source.type === 'Literal' ? node.source : null),
    };
  },
};

export default { rules: { 'import-boundaries': importBoundaries } };
