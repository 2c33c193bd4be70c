// Firmware simulator: simulated MQTT devices speaking device protocol v1, for tests and `tobira sim`.
export { Simulator, type SimulatorOptions, type DoorHandle, type DeviceInfo } from './simulator.js';
export { SimDevice, describeCommand, inputOf, type EventBody, type Observed, type InvalidCommand } from './devices.js';
export { DeviceLink, FIRMWARE, type GuardedResult } from './link.js';
export { snapshotJpeg } from './jpeg.js';
export { runRepl, type ReplIo } from './repl.js';
