// Interactive prompt for the simulator: act as people at the doors and as failing devices.
import { createInterface } from 'node:readline';
import { labelText, type SiteFile } from '../src/site/schema.js';
import { describeCommand } from './devices.js';
import type { Simulator } from './simulator.js';

export interface ReplIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Print the simulator's log lines (connections, commands received...). Default true; pass false if `log` already prints them. */
  printLog?: boolean;
}

type Handler = (sim: Simulator, args: string[], print: (line: string) => void) => Promise<void> | void;
interface ReplCommand {
  usage: string;
  help: string;
  args: number;
  run: Handler;
  /** Publishes an event from its first argument's device: confirm with the seq. */
  sends?: boolean;
}

const onOff = (word: string): boolean => {
  if (['on', 'true', '1', 'active'].includes(word)) return true;
  if (['off', 'false', '0', 'inactive'].includes(word)) return false;
  throw new Error(`expected on or off, not "${word}"`);
};

const wholeMs = (word: string): number => {
  if (!/^-?\d+$/.test(word)) throw new Error(`expected a number of ms, not "${word}"`);
  return Number(word);
};

const commands: Record<string, ReplCommand> = {
  swipe: { sends: true, usage: 'swipe DEVICE VALUE', help: 'present a card', args: 2, run: (s, [d, v]) => s.swipe(d!, v!) },
  otp: { sends: true, usage: 'otp DEVICE CODE', help: 'enter a one-time code', args: 2, run: (s, [d, v]) => s.present(d!, 'otp', v!) },
  pin: { sends: true, usage: 'pin DEVICE DIGITS', help: 'enter a PIN', args: 2, run: (s, [d, v]) => s.pin(d!, v!) },
  open: {
    usage: 'open DOOR',
    help: 'pull the door (only opens when unlocked)',
    args: 1,
    run: async (s, [d], print) => print((await s.door(d!).open()) ? `${d} is open` : `${d} is locked: it does not open (try force)`),
  },
  force: { usage: 'force DOOR', help: 'force the door open', args: 1, run: (s, [d]) => s.door(d!).force() },
  close: { usage: 'close DOOR', help: 'close the door', args: 1, run: (s, [d]) => s.door(d!).close() },
  rex: { sends: true, usage: 'rex DEVICE', help: 'press a request-to-exit button', args: 1, run: (s, [d]) => s.pressRex(d!) },
  trip: { sends: true, usage: 'trip DEVICE', help: 'walk through a beam / past a motion sensor (held 0.8 s)', args: 1, run: (s, [d]) => s.trip(d!) },
  input: { sends: true, usage: 'input DEVICE on|off', help: 'set an input', args: 2, run: (s, [d, v]) => s.input(d!, onOff(v!)) },
  status: { usage: 'status', help: 'show every device and door', args: 0, run: (s, _a, print) => status(s, print) },
  offline: { usage: 'offline DEVICE', help: 'drop the connection abruptly (last will)', args: 1, run: (s, [d]) => s.goOffline(d!) },
  online: { usage: 'online DEVICE', help: 'reconnect a device', args: 1, run: (s, [d]) => s.goOnline(d!) },
  silence: { usage: 'silence DEVICE on|off', help: 'stop or resume heartbeats', args: 2, run: (s, [d, v]) => s.silence(d!, onOff(v!)) },
  lag: { usage: 'lag DEVICE MS', help: 'handle its commands MS ms late (a backlog; 0 ends it)', args: 2, run: (s, [d, v]) => s.delayCommands(d!, wholeMs(v!)) },
  skew: { usage: 'skew DEVICE MS', help: 'set its clock MS ms ahead (negative: behind; 0: right)', args: 2, run: (s, [d, v]) => s.skewClock(d!, wholeMs(v!)) },
  garbage: {
    usage: 'garbage DEVICE',
    help: 'publish non-JSON on its events topic',
    args: 1,
    run: async (s, [d], print) => {
      await s.sendRaw(d!, s.topics.device(d!, 'events'), 'this is {not json');
      print(`${d}: published garbage on its events topic`);
    },
  },
  replay: { sends: true, usage: 'replay DEVICE', help: 're-publish its last event byte for byte', args: 1, run: (s, [d]) => s.replay(d!) },
  spoof: {
    usage: 'spoof DEVICE OTHER',
    help: "publish a card event on OTHER's topic from DEVICE",
    args: 2,
    run: async (s, [d, o], print) =>
      print(`spoof ${d} → ${o}: ${await s.publishAs(d!, o!, { type: 'credential', credential: { kind: 'card', value: 'DEADBEEF' } })}`),
  },
  help: { usage: 'help', help: 'this list', args: 0, run: (_s, _a, print) => print(helpText()) },
};

function helpText(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`), `  ${'quit'.padEnd(width)}  leave`].join('\n');
}

function status(sim: Simulator, print: (line: string) => void): void {
  for (const id of sim.deviceIds) {
    const i = sim.info(id);
    const parts = [i.online ? 'online' : 'OFFLINE'];
    if (i.silenced) parts.push('silenced');
    if (i.commandDelayMs) parts.push(`commands ${i.commandDelayMs} ms late`);
    if (i.clockOffsetMs) parts.push(`clock ${i.clockOffsetMs > 0 ? '+' : ''}${i.clockOffsetMs} ms`);
    if (i.lockState) parts.push(i.lockState);
    if (i.indication) parts.push(`last indication ${i.indication}`);
    if (i.output !== undefined) parts.push(i.output ? 'on' : 'off');
    for (const [name, active] of Object.entries(i.inputs)) parts.push(`${name} ${active ? 'active' : 'inactive'}`);
    print(`  ${id} (${i.kind}): ${parts.join(', ')}`);
  }
  for (const door of sim.doors) {
    const lock = sim.deviceIds.includes(door.lock) ? sim.lockState(door.lock) : 'not simulated';
    print(`  door ${door.id}: ${sim.door(door.id).isOpen ? 'OPEN' : 'closed'} (lock ${door.lock} ${lock})`);
  }
}

/** Runs the prompt until `quit` or the end of input. Never throws on bad input. Does not stop the simulator. */
export async function runRepl(sim: Simulator, site: SiteFile, io: ReplIo = { input: process.stdin, output: process.stdout }): Promise<void> {
  const tty = (io.output as { isTTY?: boolean }).isTTY === true;
  const rl = createInterface({ input: io.input, output: io.output, prompt: 'sim> ', terminal: tty });
  let prompting = false;
  let quitting = false; // "quit": skip whatever is still queued
  let closed = false; // readline closed (quit or end of input): no more prompts
  const print = (line: string) => {
    io.output.write(tty && prompting ? `\r\x1b[K${line}\n` : `${line}\n`);
    if (tty && prompting) rl.prompt(true);
  };
  const unsubscribe =
    io.printLog === false
      ? sim.onCommand((id, c, ok, error) => print(`${id} ← ${describeCommand(c)}${ok ? '' : ` (refused: ${error ?? 'not supported'})`}`))
      : sim.onLog(print);
  print(`${labelText(site.site.name)}: ${sim.deviceIds.length} simulated devices, ${sim.doors.length} doors. Type "help".`);
  // Lines run one after another, in order, even when pasted or piped in all at once.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    prompting = false;
    queue = queue.then(async () => {
      if (quitting) return;
      await handle(sim, line.trim(), print, () => {
        quitting = true;
        rl.close();
      });
      if (!closed) {
        prompting = true;
        rl.prompt();
      }
    });
  });
  const ended = new Promise<void>((resolve) =>
    rl.once('close', () => {
      closed = true;
      prompting = false;
      resolve();
    }),
  );
  prompting = true;
  rl.prompt();
  await ended;
  await queue; // input that ended (piped, Ctrl-D) still runs what was typed before the end
  unsubscribe();
}

async function handle(sim: Simulator, line: string, print: (line: string) => void, quit: () => void): Promise<void> {
  if (!line || line.startsWith('#')) return;
  const [name, ...args] = line.split(/\s+/) as [string, ...string[]];
  if (name === 'quit' || name === 'exit') return quit();
  const command = Object.hasOwn(commands, name.toLowerCase()) ? commands[name.toLowerCase()] : undefined;
  if (!command) return print(`unknown command "${name}"; type "help" for the list`);
  if (args.length !== command.args) return print(`usage: ${command.usage}`);
  try {
    await command.run(sim, args, print);
    if (command.sends) print(`${args[0]}: published (seq ${sim.info(args[0]!).seq})`);
  } catch (err) {
    print(`error: ${(err as Error).message}`);
  }
}
