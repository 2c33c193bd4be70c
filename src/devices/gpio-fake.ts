// In-memory pins for tests and the simulator. Levels survive close, like an exported sysfs line does.
import type { Level, Pin, PinLayer, PinOptions } from './gpio.js';

interface FakePin {
  direction: 'in' | 'out';
  opts: PinOptions;
  open: boolean;
  watchers: Array<(value: Level) => void>;
}

export class FakePinLayer implements PinLayer {
  /** The wire level per sysfs gpio number, known before a pin is opened (a switch is already closed or not). */
  private readonly wire = new Map<number, Level>();
  private readonly pins = new Map<number, FakePin>();
  private readonly order: number[] = [];
  private readonly failing = new Map<number, Error>();

  open(gpio: number, direction: 'in' | 'out', opts: PinOptions): Pin {
    if (this.pins.get(gpio)?.open) throw new Error(`GPIO ${gpio} is already open`);
    // Like onoff with reconfigureDirection false: a line already exported as an output keeps its level.
    const keepsLevel = this.pins.get(gpio)?.direction === 'out';
    const state: FakePin = { direction, opts, open: true, watchers: [] };
    this.pins.set(gpio, state);
    if (!this.order.includes(gpio)) this.order.push(gpio);
    if (direction === 'out' && !keepsLevel) this.wire.set(gpio, this.toPhysical(opts.initial ?? 0, opts));
    const self = this;
    return {
      read: () => self.toLogical(self.wire.get(gpio) ?? 0, opts),
      write(value) {
        if (direction !== 'out') throw new Error(`GPIO ${gpio} is an input`);
        const error = self.failing.get(gpio);
        if (error) throw error;
        if (!state.open) throw new Error(`GPIO ${gpio} is closed`);
        self.wire.set(gpio, self.toPhysical(value, opts));
      },
      watch(cb) {
        if (direction !== 'in') throw new Error(`GPIO ${gpio} is an output`);
        state.watchers.push(cb);
      },
      close() {
        state.open = false;
        state.watchers = [];
      },
    };
  }

  /** Sets the physical wire level of an input, as a switch would, and fires watchers on a change. */
  setInput(gpio: number, physical: Level): void {
    const state = this.pins.get(gpio);
    if (state?.direction === 'out') throw new Error(`GPIO ${gpio} is an output`);
    const before = this.wire.get(gpio);
    this.wire.set(gpio, physical);
    if (!state?.open || before === physical) return;
    const logical = this.toLogical(physical, state.opts);
    for (const cb of [...state.watchers]) cb(logical);
  }

  /** The logical level (as the driver sees it, after activeLow). */
  level(gpio: number): Level | undefined {
    const state = this.pins.get(gpio);
    const physical = this.wire.get(gpio);
    if (!state || physical === undefined) return undefined;
    return this.toLogical(physical, state.opts);
  }

  /** The physical level on the wire. */
  physical(gpio: number): Level | undefined {
    return this.wire.get(gpio);
  }

  /** Every gpio number opened so far, in order of first opening. */
  opened(): number[] {
    return [...this.order];
  }

  /** True once an opened pin has been closed (and not reopened). */
  closed(gpio: number): boolean {
    const state = this.pins.get(gpio);
    return state !== undefined && !state.open;
  }

  /** How a pin was opened, for asserting direction, activeLow and debounce. */
  config(gpio: number): { direction: 'in' | 'out'; opts: PinOptions } | undefined {
    const state = this.pins.get(gpio);
    return state && { direction: state.direction, opts: { ...state.opts } };
  }

  /** Makes writes to a pin throw (a failed relay driver, EIO on sysfs); false clears it. */
  failWrites(gpio: number, fail: boolean | Error = true): void {
    if (fail === false) this.failing.delete(gpio);
    else this.failing.set(gpio, fail === true ? new Error('EIO: i/o error') : fail);
  }

  private toLogical(physical: Level, opts: PinOptions): Level {
    return opts.activeLow ? ((1 - physical) as Level) : physical;
  }

  private toPhysical(logical: Level, opts: PinOptions): Level {
    return opts.activeLow ? ((1 - logical) as Level) : logical;
  }
}
