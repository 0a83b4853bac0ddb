// The "Rules" page.
import { ready, showVersion } from "/assets/common.js";

showVersion().finally(ready);
