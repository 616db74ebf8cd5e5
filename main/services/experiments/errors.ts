/** Errors of sweep definitions, naming the place they came from. */
import { DomainError } from '../../../contract/wire';

/** A grid key or value that cannot apply to the base: says which, and what exists. */
export class SweepGridError extends DomainError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('invalid-input', `grid key "${key}": ${message}`);
    this.name = 'SweepGridError';
  }
}

/** A grid point (an arm) whose values each apply but together do not: named by its values. */
export class SweepArmError extends DomainError {
  constructor(arm: string, message: string) {
    super('invalid-input', `grid point "${arm || 'the base'}": ${message}`);
    this.name = 'SweepArmError';
  }
}
