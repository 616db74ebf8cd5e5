#!/usr/bin/env node
import '../out/cli/index.js';
