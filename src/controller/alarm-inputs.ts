// Inputs that are alarms in themselves: tamper switches on any device, and the UPS's contacts for
// primary power and standby (battery) power.
import type { Context, Extension } from './context.js';
import type { EventType } from '../policy/vocabulary.js';

export class AlarmInputs implements Extension {
  readonly name = 'alarm-inputs';
  private off?: () => void;
  /** Last reported level per device and input, so only changes raise events. */
  private readonly levels = new Map<string, boolean>();

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.off = this.ctx.bus.on(
      'device.event',
      ({ deviceId, event }) => {
        if (event.type !== 'input') return;
        const { power } = this.ctx.site; // read each time: a reload may change it
        const key = `${deviceId}/${event.input}`;
        const was = this.levels.get(key);
        this.levels.set(key, event.active);
        if (was === event.active) return;
        if (event.input === 'tamper') {
          this.raise(deviceId, event.active, 'tamper', 'tamper-cleared');
        } else if (deviceId === power.primaryFailInput) {
          this.raise(deviceId, event.active, 'primary-power-failed', 'primary-power-restored');
        } else if (deviceId === power.standbyTroubleInput) {
          this.raise(deviceId, event.active, 'standby-power-trouble', 'standby-power-restored');
        }
      },
      this.name,
    );
  }

  stop(): void {
    this.off?.();
  }

  private raise(deviceId: string, active: boolean, on: EventType, off: EventType): void {
    this.ctx.alarms.raise({ category: 'alarm', type: active ? on : off, severity: active ? 'alarm' : 'info', source: deviceId });
  }
}
