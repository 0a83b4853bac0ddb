// The "Decision matrix" page.
import { ready, showVersion } from "/assets/common.js";

showVersion().finally(ready);
