// The real @agoric/swingset-liveslots, handed to our supervisor (evaluated after lockdown).
import { makeLiveSlots } from '@agoric/swingset-liveslots';

globalThis.makeLiveSlots = makeLiveSlots;
