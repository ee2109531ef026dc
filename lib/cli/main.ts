import { runCommand, type Command } from './command';
import { COMMANDS } from './commands';

const USAGE = (commands: Command[]) => `Usage: fat2019 <command> [options]

Audio tagging with the FAT2019 12th-place pipeline (log-mel CNNs, SpecMix, 4-stage warm-up).

Commands:
${commands.map((c) => `  ${c.name.padEnd(Math.max(11, ...commands.map((d) => d.name.length)))} ${c.summary}`).join('\n')}

Run 'fat2019 <command> --help' for the options of a command.
`;

/** Entry point of the `fat2019` binary; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE(COMMANDS));
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`fat2019: unknown command "${name}"\n\n${USAGE(COMMANDS)}`);
    return 2;
  }
  return runCommand(command, rest);
}
