// Builds the browser viewer into dist/public, which the service serves at / (src/web/serve.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/public', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Everything bundled into files of our own origin: the CSP allows no inline script.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
