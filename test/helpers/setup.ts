// Runs in every test worker. Tests here do long synchronous tensor work; vitest's worker RPC times out
// (60 s, not configurable) when its reply waits behind synchronous work that long, and consecutive
// tests awaiting only promises never return to the event loop. One macrotask turn around each test lets
// the worker read its RPC replies, so only a single test running > 60 s synchronously could trip it.
import { afterEach, beforeEach } from "vitest";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
beforeEach(turn);
afterEach(turn);
