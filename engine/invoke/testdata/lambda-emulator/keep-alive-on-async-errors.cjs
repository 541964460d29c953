// Preloaded into the emulator (NODE_OPTIONS=--require ...).
// serverless-offline doesn't await Event invocations; serverless v3's 'essentials' module turns the
// resulting unhandled rejection into process exit unless another listener exists.
process.on('unhandledRejection', (r) => console.error('[emulator] async (Event) invocation failed:', r && r.message || r));
