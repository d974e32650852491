// examples/js/producer.mjs against the real service, run by this Node.js.
import { describe } from 'vitest';
import { producerTests } from './producers.js';

describe('examples/js/producer.mjs', () => producerTests({ command: () => process.execPath, script: 'js/producer.mjs', via: ['http', 'ws'] }));
