export * from './api';
export * from './wire';
export * from './training';
export * from './datasets';
export * from './projects';
export * from './model';
export * from './runs';
export * from './fast-events';
