/** The model checked against the loss and the data (issue #14) against the serve host, in Debian's Chromium. */
import { scenarioTest, useServeHost } from './serve-host';
import { taskCheckScenario } from './scenarios/task-check';

const host = useServeHost();

scenarioTest(host, 'removing Flatten from the seed model: not valid, the problem at the layer, one click to fix', taskCheckScenario);
