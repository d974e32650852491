// examples/python/producer.py against the real service (needs python3-requests and python3-websockets).
import { describe } from 'vitest';
import { producerTests } from './producers.js';
import { findPython } from './run.js';

describe('examples/python/producer.py', () => producerTests({ command: findPython, script: 'python/producer.py', via: ['http', 'ws'] }));
