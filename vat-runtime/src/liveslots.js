// The real @agoric/swingset-liveslots, handed to our supervisor (evaluated after lockdown),
// with the packages vat sources may import.
import { makeLiveSlots } from '@agoric/swingset-liveslots';
import { packages } from './packages.js';

globalThis.makeLiveSlots = makeLiveSlots;
globalThis.ocapPackages = packages;
