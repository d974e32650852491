// examples/js/viewer.mjs against the real service, run by this Node.js.
import { describe } from 'vitest';
import { viewerTests } from './viewers.js';

describe('examples/js/viewer.mjs', () => viewerTests({ command: () => process.execPath, script: 'js/viewer.mjs' }));
