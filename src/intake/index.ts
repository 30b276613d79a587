export { DEFAULT_MAX_FUTURE_MS, intakeBytes, intakeText, intakeValue, invalidUtf8, type IntakeOptions, type Verdict } from './intake.js';
export { quarantineReasons, QuarantineReason } from './reasons.js';
export * from './records.js';
export { formatInstant, parseInstant } from './timestamps.js';
export { compareIds } from './ids.js';
