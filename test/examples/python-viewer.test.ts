// examples/python/viewer.py against the real service (needs python3-requests and python3-websockets).
import { describe } from 'vitest';
import { viewerTests } from './viewers.js';
import { findPython } from './run.js';

describe('examples/python/viewer.py', () => viewerTests({ command: findPython, script: 'python/viewer.py' }));
