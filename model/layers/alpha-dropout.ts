/** AlphaDropout: dropout that keeps SELU's self-normalization (mean and variance). */
import { dropoutDef } from './dropout';
import { defineKit } from './registry';

export const alphaDropout = defineKit(dropoutDef('AlphaDropout', 'Dropout that suits SELU', 'αD'));
