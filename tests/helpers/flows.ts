// What a person does at a door, through the firmware simulator.
import type { Simulator } from '../../firmware-sim/index.js';

/** Card + PIN at the example site's lab or vault: swipe at the reader, wait for the keypad to ask, type the PIN. */
export async function cardAndPin(sim: Simulator, door: 'lab' | 'vault', card: string, pin: string): Promise<void> {
  const asked = sim.expectCommand(`${door}-keypad`, (c) => c.command === 'indicate' && c.pattern === 'pin-required', 3000, `${door} keypad asks for a PIN`);
  await sim.swipe(`${door}-reader`, card);
  await asked;
  await sim.pin(`${door}-keypad`, pin);
}
