import { type Command, Option } from 'commander';
import { closestMatch } from '../workflow/diagnostics.js';
import { UsageError } from './exit-codes.js';
import { clientOptions } from './shared-options.js';

/**
 * `GROUP list [--json]`, the group's default command: `valkyrie runners` alone lists them, as
 * `valkyrie runs` lists runs. Its help says so in those words: "(the default)" after "revoked and
 * expired ones included" read as if listing those were the default.
 */
function defaultList(group: Command, description: string): Command {
  return clientOptions(
    group
      .command('list', { isDefault: true })
      .description(`${description}; \`valkyrie ${group.name()}\` alone does this`)
      .option('--json', 'print JSON')
      .allowExcessArguments()
      .hook('preAction', (list) => refuseUnknownCommand(list)),
  );
}

/**
 * The default list command receives any word that is no command of its group: refused as the
 * unknown command it is, rather than as an argument too many.
 */
function refuseUnknownCommand(list: Command): void {
  const group = list.parent;
  const word = list.args[0];
  if (group === null || word === undefined) return;
  const names = group.commands.map((command) => command.name()).filter((name) => name !== 'help');
  const near = closestMatch(word, names);
  throw new UsageError(
    `unknown command '${group.name()} ${word}'${near ? ` (did you mean '${near}'?)` : ''}; its commands: ${names.join(', ')}`,
  );
}

/** `valkyrie token …` and `valkyrie runners …`: the fleet's tokens and runners, through a server's API. */
export function addFleetAdminCommands(program: Command, setExit: (code: number) => void): void {
  const token = program
    .command('token')
    .description('create, list and revoke API tokens and runner registration tokens (admin token needed)')
    .addHelpText(
      'afterAll',
      '\nExit codes: 0 done, 2 usage or a request the server refused (revoke of an id no token has), 69 server unreachable or failing, 77 token refused (every token command takes an admin token), 141 output closed early (| head), 74 output not writable (> a full disk).',
    );
  clientOptions(
    token
      .command('create')
      .description('create a token and print it (only this once) on stdout')
      .addOption(
        new Option(
          '--role <role>',
          'admin (everything), submit (runs, bundles, and read), read (GET only), runner (registers runners)',
        )
          .choices(['admin', 'submit', 'read', 'runner'])
          .makeOptionMandatory(),
      )
      .option(
        '--ttl <duration>',
        'expire after this long, at least 1m and at most 10 years (3650d); units ms, s, m, h, d: 30m, 12h, 30d (runner registration tokens default to 24h; others never expire)',
      )
      .option('--name <name>', 'a label to recognise it by in token list')
      .option('--json', 'print {id, token, role, expiresAt} as JSON'),
  ).action(async (options) => {
    const { tokenCreateCommand } = await import('./commands/token.js');
    setExit(await tokenCreateCommand(options));
  });
  defaultList(token, 'list tokens (never their secrets), revoked and expired ones included').action(
    async (options) => {
      const { tokenListCommand } = await import('./commands/token.js');
      setExit(await tokenListCommand(options));
    },
  );
  clientOptions(
    token
      .command('revoke')
      .description(
        "revoke a token: it is refused from now on; a runner's credential (its id) also disconnects that runner, which exits 2",
      )
      .argument('<id>', 'token id (see token list), or the whole token'),
  ).action(async (id: string, options) => {
    const { tokenRevokeCommand } = await import('./commands/token.js');
    setExit(await tokenRevokeCommand(id, options));
  });

  const runnerArgument = 'runner id, name, or the start of its id (see runners list)';
  const runners = program
    .command('runners')
    .description(
      "list the fleet's runners, and drain, resume, put one in maintenance or remove one (admin token for changes)",
    )
    .addHelpText(
      'afterAll',
      '\nExit codes: 0 done, 2 usage, a runner not listed, or a request the server refused, 69 server unreachable or failing, 77 token refused (a list takes a read token, a change an admin one), 141 output closed early (| head), 74 output not writable (> a full disk).',
    );
  defaultList(runners, 'list every runner that has connected to the server, from all its replicas').action(
    async (options) => {
      const { runnersListCommand } = await import('./commands/runners.js');
      setExit(await runnersListCommand(options));
    },
  );
  for (const [action, what] of [
    ['drain', 'give the runner no new jobs; its running jobs finish'],
    ['maintenance', 'the same as drain, marked as maintenance for operators'],
    ['resume', 'put a drained runner, or one in maintenance, back online'],
  ] as const) {
    const command = runners.command(action).description(what).argument('<runner>', runnerArgument);
    if (action !== 'resume')
      command.option(
        '--note <text>',
        'why, for other operators: listed with the runner (valkyrie runners) until its mode changes again',
      );
    clientOptions(command).action(async (id: string, options) => {
      const { runnerModeCommand } = await import('./commands/runners.js');
      setExit(await runnerModeCommand(action, id, options));
    });
  }
  clientOptions(
    runners
      .command('remove')
      .description(
        'take a runner off the fleet: revokes its credential (as token revoke ID), so it is disconnected and exits 2, and its jobs follow on-runner-lost at once; to bring it back, register it again',
      )
      .argument('<runner>', runnerArgument),
  ).action(async (id: string, options) => {
    const { runnerRemoveCommand } = await import('./commands/runners.js');
    setExit(await runnerRemoveCommand(id, options));
  });
}
