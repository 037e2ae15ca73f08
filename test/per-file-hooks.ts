import { afterAll, afterEach } from 'vitest';
import { runAfterEachFile, runAfterEachTest } from './helper-hooks.js';

// A setup file: it runs before each test file, also when files share a worker's modules.
afterEach(runAfterEachTest);
afterAll(runAfterEachFile);
