// Node handlers the engine/invoke Lambda tests call through the emulator.
'use strict';

// echo returns its event, marked, with the function name.
exports.echo = async (event, context) => ({ ...event, echoed: true, fn: context.functionName });

// boom throws a named error (the emulator reports errorType "Error" regardless).
exports.boom = async (event) => {
  const e = new Error('kaboom: ' + JSON.stringify(event));
  e.name = 'CustomBoomError';
  throw e;
};

// slow outlives its 1 s timeout.
exports.slow = async () => {
  await new Promise((r) => setTimeout(r, 3000));
  return { slept: 3000 };
};

// context returns what the caller put in the client context and the event.
exports.context = async (event, context) => ({
  event,
  clientContext: context.clientContext || null,
});

