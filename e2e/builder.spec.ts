/** The layer builder scenario against the serve host, in Debian's Chromium. */
import { scenarioTest, useServeHost } from './serve-host';
import { builderScenario } from './scenarios/builder';

const host = useServeHost();

scenarioTest(host, 'builds both BatchNormalization seed models by drag-and-drop, edits, undo and validation', builderScenario);
