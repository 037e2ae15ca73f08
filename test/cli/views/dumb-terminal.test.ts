import { afterEach, expect, it } from 'vitest';
import { createView } from '../../../src/cli/views/create-view.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';

// A terminal whose TERM is `dumb` (Emacs' shell, some CI consoles) prints cursor moves as garbage:
// `valkyrie run` there gets the plain line view, as when piped.

const wasTty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
const term = process.env.TERM;

afterEach(() => {
  if (wasTty === undefined) Reflect.deleteProperty(process.stdout, 'isTTY');
  else Object.defineProperty(process.stdout, 'isTTY', wasTty);
  if (term === undefined) delete process.env.TERM;
  else process.env.TERM = term;
});

function viewOn(termName: string) {
  Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true, writable: true });
  process.env.TERM = termName;
  return createView({}, { write: () => undefined });
}

it('gives a terminal whose TERM is dumb the line view, and another terminal the live view', () => {
  expect(viewOn('dumb')).toBeInstanceOf(LineView);
  expect(viewOn('xterm-256color')).toBeInstanceOf(TtyView);
});
